-- embedsync.<table>_search(query, k, min_score) for a chunked table: the k rows whose best chunk is nearest to
-- the query by cosine, each row once with its best chunk's score (1 - cosine distance), only scores >=
-- min_score. Same signature and answer shape as search.sql, so callers do not change when a table is chunked.
-- Reads the chunks of the recorded model only: its checksum is a literal and the distance is taken on
-- embedding::<type>(<dimensions>), exactly the expression and predicate of the model's partial hnsw index
-- (chunk-index.sql), so the index serves the inner ORDER BY ... LIMIT; migrate renders the function again
-- when the model changes (at the swap). With the index the inner scan is `ORDER BY distance LIMIT 4 * k`:
-- the 4 × k nearest chunks, grouped by row (rows whose chunks crowd that list leave fewer rows:
-- docs/chunking.md). Without it, OFFSET 0: every chunk of the model is scored once and grouped, exact. The dimension check is the
-- one-time gate of search.sql. Inlinable (STABLE SQL, one SELECT), so EXPLAIN of a call shows the index scan.
CREATE OR REPLACE FUNCTION {{function:search}}(query vector, k integer DEFAULT 10, min_score float8 DEFAULT 0)
RETURNS TABLE (id {{id_type}}, score float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT b.id, b.score FROM (
    SELECT n.id, max(1 - n.distance) AS score FROM (
      SELECT c.id, c.embedding::{{vector_type}}({{dimensions}}) <=> query::{{vector_type}} AS distance
      FROM {{chunk_table}} c
      WHERE embedsync.check_query_dimensions(query, (SELECT s.dimensions FROM embedsync.state s WHERE s.source = {{source_key}}), {{source_key}})
        AND c.model_checksum = {{model_checksum}}
      {{chunk_nearest:4,k}}
    ) n
    GROUP BY n.id
  ) b
  WHERE b.score >= min_score
  ORDER BY b.score DESC, b.id
  LIMIT k
$fn$;
