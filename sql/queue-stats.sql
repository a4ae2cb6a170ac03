-- Queue gauges of source $1 for metrics and status: one pass over its queue entries (few when the daemon
-- keeps up) plus its dead-letter count. Per lane (0 live, 1 bulk), the oldest age counts from the latest
-- change, so a live edit of a row that waited long in bulk shows the edit's age.
SELECT count(*)::int AS queued,
       count(*) FILTER (WHERE lease_owner IS NOT NULL AND next_attempt_at > now())::int AS leased,
       coalesce(extract(epoch FROM now() - min(enqueued_at)), 0)::float8 AS oldest_seconds,
       count(*) FILTER (WHERE lane = 0)::int AS live_queued,
       coalesce(extract(epoch FROM now() - min(changed_at) FILTER (WHERE lane = 0)), 0)::float8 AS live_oldest_seconds,
       count(*) FILTER (WHERE lane = 1)::int AS bulk_queued,
       coalesce(extract(epoch FROM now() - min(changed_at) FILTER (WHERE lane = 1)), 0)::float8 AS bulk_oldest_seconds,
       (SELECT count(*) FROM embedsync.deadletter WHERE source = $1)::int AS deadlettered
FROM embedsync.queue
WHERE source = $1
