-- embedsync.<table>_search(query, k, min_score): the k rows nearest to a query vector by cosine, score =
-- 1 - cosine distance, only scores >= min_score. Installed by migrate for each table, and as the
-- unqualified embedsync.search for the first table only (see similar-to.sql).
--
-- Inlined like similar_to (STABLE SQL, one SELECT), so the index serves the ORDER BY ... LIMIT. min_score
-- filters outside the ordered LIMIT: a score condition inside would hide the ORDER BY from the index.
-- The dimension check is a qual with no column in it, so the planner runs it once, before any row is read
-- (a gating Result node): a wrong-length query fails with a message naming both dimensions instead of
-- pgvector's "different vector dimensions". Rows embedded by another model than the current one are skipped.
-- One checker for every source (the source's name is an argument, for the message). The query is cast to the
-- column's type ({{vector_type}}: vector or halfvec), so a halfvec column's index serves it too.
CREATE OR REPLACE FUNCTION embedsync.check_query_dimensions(query vector, expected integer, source text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
BEGIN
  IF expected IS NULL THEN
    RAISE EXCEPTION 'embedsync: % has no model recorded; run embedsync migrate', source USING ERRCODE = '55000';
  END IF;
  IF vector_dims(query) <> expected THEN
    RAISE EXCEPTION 'embedsync: query vector has % dimensions, but % holds %-dimension vectors', vector_dims(query), source, expected
      USING ERRCODE = '22000', HINT = 'embed the query with the model the table was migrated to (embedsync status shows it)';
  END IF;
  RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION {{function:search}}(query vector, k integer DEFAULT 10, min_score float8 DEFAULT 0)
RETURNS TABLE (id {{id_type}}, score float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT n.id, n.score FROM (
    SELECT t.{{id}} AS id, 1 - (t.{{embedding}} <=> query::{{vector_type}}) AS score
    FROM {{table}} t
    WHERE embedsync.check_query_dimensions(query, (SELECT s.dimensions FROM embedsync.state s WHERE s.source = {{source_key}}), {{source_key}})
      AND t.{{checksum}} = (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}})
    ORDER BY t.{{embedding}} <=> query::{{vector_type}}
    LIMIT k
  ) n
  WHERE n.score >= min_score
$fn$;
