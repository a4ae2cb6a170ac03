-- Embedding coverage of table $1 for status, estimated without reading the table ($2 current model checksum,
-- $3 the embedding column's name, $4 the checksum column's name). Rows: the write path's running count of
-- live rows (pg_stat_get_live_tuples), or the planner's reltuples where there is none. The split comes from
-- the columns' statistics as of the last ANALYZE: the current checksum's share of the checksum column (its
-- most common values), the checksum's and the vector's null fractions. A never-analyzed leaf leaves the
-- split NULL. Summed over the leaf partitions; `pages` tells status whether an exact count would be as quick.
WITH leaves AS (
  SELECT c.oid, c.reltuples, n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.oid = $1::regclass AND c.relkind <> 'p'
     OR c.oid IN (SELECT relid FROM pg_partition_tree($1::regclass) WHERE isleaf)
), per_leaf AS (
  SELECT CASE WHEN pg_stat_get_live_tuples(l.oid) > 0 OR l.reltuples < 0 THEN pg_stat_get_live_tuples(l.oid)
              ELSE l.reltuples END::float8 AS total,
         e.null_frac AS vector_null,
         k.null_frac AS checksum_null,
         CASE WHEN k.attname IS NOT NULL THEN coalesce(
           (SELECT m.f FROM unnest(k.most_common_vals::text::text[], k.most_common_freqs) AS m(v, f) WHERE m.v = $2), 0) END AS current_share,
         pg_relation_size(l.oid) / current_setting('block_size')::int AS pages,
         greatest(pg_stat_get_last_analyze_time(l.oid), pg_stat_get_last_autoanalyze_time(l.oid)) AS analyzed_at
  FROM leaves l
  LEFT JOIN pg_stats e ON e.schemaname = l.nspname AND e.tablename = l.relname AND e.attname = $3 AND NOT e.inherited
  LEFT JOIN pg_stats k ON k.schemaname = l.nspname AND k.tablename = l.relname AND k.attname = $4 AND NOT k.inherited
)
SELECT coalesce(sum(total), 0)::float8 AS total,
       bool_and(vector_null IS NOT NULL AND current_share IS NOT NULL) AS analyzed,
       -- Shares of the whole, weighted by each leaf's rows.
       sum(total * current_share)::float8 AS current_checksum,
       sum(total * checksum_null)::float8 AS no_checksum,
       sum(total * vector_null)::float8 AS no_vector,
       coalesce(sum(pages), 0)::float8 AS pages,
       min(analyzed_at) AS analyzed_at
FROM per_leaf
