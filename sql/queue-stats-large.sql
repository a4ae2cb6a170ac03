-- Queue gauges of source $1 for status when its queue is large (queue-size-estimate): no pass over the
-- entries. Leased rows through the due index (next_attempt_at in the future: leases and backoffs, a few
-- batches' worth); the age of the entry due first stands for the oldest (the same but for retried rows);
-- the dead-letter count.
SELECT (SELECT count(*) FROM embedsync.queue
        WHERE source = $1 AND next_attempt_at > now() AND lease_owner IS NOT NULL)::int AS leased,
       coalesce((SELECT extract(epoch FROM now() - enqueued_at) FROM embedsync.queue
                 WHERE source = $1 ORDER BY next_attempt_at LIMIT 1), 0)::float8 AS oldest_seconds,
       (SELECT count(*) FROM embedsync.deadletter WHERE source = $1)::int AS deadlettered
