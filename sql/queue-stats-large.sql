-- Queue gauges of source $1 for status when its queue is large (queue-size-estimate): no pass over the
-- entries, only short range scans of queue_lane_due (source, lane, next_attempt_at). Leased rows: next_attempt_at
-- in the future (leases and backoffs, a few batches' worth); the live lane counted (it holds the application's
-- own recent writes, few); per lane, the latest change of the entry due first stands for the oldest (the same
-- but for retried rows); the dead-letter count.
SELECT (SELECT count(*) FROM embedsync.queue
        WHERE source = $1 AND lane = ANY ('{0,1}') AND next_attempt_at > now() AND lease_owner IS NOT NULL)::int AS leased,
       (SELECT count(*) FROM embedsync.queue WHERE source = $1 AND lane = 0)::int AS live_queued,
       coalesce((SELECT extract(epoch FROM now() - changed_at) FROM embedsync.queue
                 WHERE source = $1 AND lane = 0 ORDER BY next_attempt_at LIMIT 1), 0)::float8 AS live_oldest_seconds,
       coalesce((SELECT extract(epoch FROM now() - changed_at) FROM embedsync.queue
                 WHERE source = $1 AND lane = 1 ORDER BY next_attempt_at LIMIT 1), 0)::float8 AS bulk_oldest_seconds,
       coalesce((SELECT extract(epoch FROM now() - enqueued_at) FROM (
                   (SELECT enqueued_at, next_attempt_at FROM embedsync.queue WHERE source = $1 AND lane = 0 ORDER BY next_attempt_at LIMIT 1)
                   UNION ALL
                   (SELECT enqueued_at, next_attempt_at FROM embedsync.queue WHERE source = $1 AND lane = 1 ORDER BY next_attempt_at LIMIT 1)
                 ) first ORDER BY enqueued_at LIMIT 1), 0)::float8 AS oldest_seconds,
       (SELECT count(*) FROM embedsync.deadletter WHERE source = $1)::int AS deadlettered
