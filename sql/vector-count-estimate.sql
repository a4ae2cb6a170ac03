-- What the database already knows about the rows with a vector in column $2 of table $1, without reading
-- the table: the planner's row estimate (pg_class.reltuples) and the column's null fraction (pg_stats) as of
-- the last ANALYZE, the rows changed since it, the write counters the write path keeps (inserts + updates +
-- deletes, for the band around a stored exact count) and a signature of the table's storage and of the
-- column (dropped and added again, or swapped in by a model change: another attnum). Summed over
-- the leaf partitions of a partitioned table. Catalog and statistics only: cheap on any table size.
-- `analyzed_vectors` is NULL when some leaf has never been analyzed (no estimate to go by).
WITH leaves AS (
  SELECT c.oid, c.relfilenode, c.reltuples, n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.oid = $1::regclass AND c.relkind <> 'p'
     OR c.oid IN (SELECT relid FROM pg_partition_tree($1::regclass) WHERE isleaf)
), per_leaf AS (
  SELECT l.oid, l.relfilenode,
         CASE WHEN l.reltuples >= 0 THEN l.reltuples * (1 - s.null_frac) END AS vectors,
         greatest(l.reltuples, 0) AS live,
         pg_stat_get_mod_since_analyze(l.oid) AS mods,
         pg_stat_get_tuples_inserted(l.oid) + pg_stat_get_tuples_updated(l.oid) + pg_stat_get_tuples_deleted(l.oid) AS writes
  FROM leaves l
  LEFT JOIN pg_stats s ON s.schemaname = l.nspname AND s.tablename = l.relname AND s.attname = $2 AND NOT s.inherited
)
SELECT CASE WHEN bool_and(vectors IS NOT NULL) THEN coalesce(sum(vectors), 0) END::float8 AS analyzed_vectors,
       coalesce(sum(live), 0)::float8 AS analyzed_rows,
       coalesce(sum(mods), 0)::float8 AS mods,
       coalesce(sum(writes), 0)::float8 AS writes,
       current_setting('track_counts')::bool AS track_counts,
       coalesce(string_agg(oid::text || ':' || relfilenode::text, ',' ORDER BY oid), '') || '#' ||
         coalesce((SELECT a.attnum::text FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped), '') || '@' ||
         extract(epoch FROM pg_postmaster_start_time())::text AS relations
FROM per_leaf
