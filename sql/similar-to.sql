-- embedsync.<table>_similar_to(id, k): the k rows nearest to row `id` by cosine, excluding the row itself,
-- with score = 1 - cosine distance. Installed by migrate for each table (`<schema>_<table>_similar_to`
-- outside public), and as the unqualified embedsync.similar_to for the first table only.
--
-- A plain STABLE SQL function with one SELECT, so Postgres inlines it into the caller's query: the caller's
-- LIMIT and filters meet the vector index directly (EXPLAIN shows the index scan, not a function scan).
-- The probe vector is a scalar subquery (an InitPlan), which pgvector's index scans accept as the ORDER BY
-- argument. Rows whose vector was made by another model than the current one (model_checksum stale while a
-- same-dimension re-embedding catches up) are skipped: their scores would be meaningless.
CREATE OR REPLACE FUNCTION {{function:similar_to}}(target_id {{id_type}}, k integer DEFAULT 10)
RETURNS TABLE (id {{id_type}}, score float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT t.{{id}}, 1 - (t.{{embedding}} <=> p.v)
  FROM {{table}} t,
       (SELECT (SELECT x.{{embedding}} FROM {{table}} x WHERE x.{{id}} = target_id) AS v) p
  WHERE t.{{id}} <> target_id
    -- No probe vector (the id does not exist, or its row has none yet): no neighbours, rather than k rows in
    -- arbitrary order with a NULL score. A qual on the InitPlan alone, so it is checked once, before any row.
    AND p.v IS NOT NULL
    AND t.{{checksum}} = (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}})
  ORDER BY t.{{embedding}} <=> p.v
  LIMIT k
$fn$;
