-- Queue gauges for metrics and status: one pass over the queue (small when the daemon keeps up) plus the
-- dead-letter count.
SELECT count(*)::int AS queued,
       count(*) FILTER (WHERE lease_owner IS NOT NULL AND next_attempt_at > now())::int AS leased,
       coalesce(extract(epoch FROM now() - min(enqueued_at)), 0)::float8 AS oldest_seconds,
       (SELECT count(*) FROM embedsync.deadletter)::int AS deadlettered
FROM embedsync.queue
