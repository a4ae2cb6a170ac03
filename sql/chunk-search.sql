-- embedsync.<table>_search(query, k, min_score) for a chunked table: the k rows whose best chunk is nearest to
-- the query by cosine, each row once with its best chunk's score (1 - cosine distance), only scores >=
-- min_score. Same signature and answer shape as search.sql, so callers do not change when a table is chunked.
-- Reads the chunks of the recorded model only (a model change writes the new model's beside them until its
-- swap); the dimension check is the one-time gate of search.sql. Exact: the chunk table has no vector index,
-- so every chunk of the model is scored once and grouped by row (docs/chunking.md has the cost).
CREATE OR REPLACE FUNCTION {{function:search}}(query vector, k integer DEFAULT 10, min_score float8 DEFAULT 0)
RETURNS TABLE (id {{id_type}}, score float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT b.id, b.score FROM (
    SELECT c.id, max(1 - (c.embedding <=> query)) AS score
    FROM {{chunk_table}} c
    WHERE embedsync.check_query_dimensions(query, (SELECT s.dimensions FROM embedsync.state s WHERE s.source = {{source_key}}), {{source_key}})
      AND c.model_checksum = (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}})
    GROUP BY c.id
  ) b
  WHERE b.score >= min_score
  ORDER BY b.score DESC, b.id
  LIMIT k
$fn$;
