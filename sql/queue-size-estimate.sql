-- Queue entries of source $1, estimated for status without reading the queue: the live-row count the write
-- path keeps for embedsync.queue (the planner's reltuples where there is none) times the source's share of the
-- queue's source column (its most common values as of the last ANALYZE; all of it when there are no
-- statistics yet, so the estimate errs high and a small queue is then counted). A queue of 1M entries
-- takes a count 150 ms; this reads the catalog.
SELECT (CASE WHEN pg_stat_get_live_tuples(c.oid) > 0 OR c.reltuples < 0 THEN pg_stat_get_live_tuples(c.oid) ELSE c.reltuples END
        * coalesce((SELECT coalesce((SELECT m.f FROM unnest(s.most_common_vals::text::text[], s.most_common_freqs) AS m(v, f) WHERE m.v = $1), 0)
                    FROM pg_stats s WHERE s.schemaname = 'embedsync' AND s.tablename = 'queue' AND s.attname = 'source' AND NOT s.inherited
                      AND s.most_common_vals IS NOT NULL), 1))::float8 AS queued
FROM pg_class c
WHERE c.oid = 'embedsync.queue'::regclass
