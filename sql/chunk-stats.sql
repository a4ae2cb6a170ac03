-- For `embedsync status` and GET /status: the chunks of the recorded model and the rows they belong to. Exact
-- ($1, or a chunk table of under 1,000 pages); else the chunk count is the planner's estimate from pg_class and
-- no row count is given, so a status poll never scans a large chunk table. The counts are uncorrelated scalar
-- subqueries (InitPlans), evaluated only when their CASE branch is taken.
SELECT CASE WHEN $1 OR k.relpages < 1000
            THEN (SELECT count(*) FROM {{chunk_table}} c
                  WHERE c.model_checksum = (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}}))
            ELSE greatest(k.reltuples, 0)::bigint END AS chunks,
       CASE WHEN $1 OR k.relpages < 1000
            THEN (SELECT count(DISTINCT c.id) FROM {{chunk_table}} c
                  WHERE c.model_checksum = (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}}))
            END AS rows,
       NOT ($1 OR k.relpages < 1000) AS estimated
FROM pg_class k
WHERE k.oid = to_regclass('{{chunk_table}}')
