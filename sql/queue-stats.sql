-- Queue gauges of source $1 for metrics and status: one pass over its queue entries (few when the daemon
-- keeps up) plus its dead-letter count.
SELECT count(*)::int AS queued,
       count(*) FILTER (WHERE lease_owner IS NOT NULL AND next_attempt_at > now())::int AS leased,
       coalesce(extract(epoch FROM now() - min(enqueued_at)), 0)::float8 AS oldest_seconds,
       (SELECT count(*) FROM embedsync.deadletter WHERE source = $1)::int AS deadlettered
FROM embedsync.queue
WHERE source = $1
