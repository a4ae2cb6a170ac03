-- embedsync.<table>_search_chunks(query, k, min_score): the k passages (chunks) nearest to a query vector, for
-- display: the row's id, the chunk's number and text, and its score (1 - cosine distance), scores >= min_score.
-- A row may answer with several passages. Chunks of the recorded model only (its checksum a literal, the
-- distance on embedding::<type>(<dimensions>): the model's partial hnsw index serves the inner ORDER BY ...
-- LIMIT k, as search.sql's index serves rows; without the index a top-k sort of them all, exact). A wrong-dimension query is
-- refused before any chunk is read (the gate of search.sql). The distance is computed once per chunk and
-- ordered by that output column; ties are broken by (id, chunk) outside, where no index needs to see it.
CREATE OR REPLACE FUNCTION {{function:search_chunks}}(query vector, k integer DEFAULT 10, min_score float8 DEFAULT 0)
RETURNS TABLE (id {{id_type}}, chunk integer, chunk_text text, score float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT n.id, n.chunk, n.chunk_text, 1 - n.distance FROM (
    SELECT c.id, c.chunk, c.chunk_text, c.embedding::{{vector_type}}({{dimensions}}) <=> query::{{vector_type}} AS distance
    FROM {{chunk_table}} c
    WHERE embedsync.check_query_dimensions(query, (SELECT s.dimensions FROM embedsync.state s WHERE s.source = {{source_key}}), {{source_key}})
      AND c.model_checksum = {{model_checksum}}
    {{chunk_nearest:1,k}}
  ) n
  WHERE 1 - n.distance >= min_score
  ORDER BY n.distance, n.id, n.chunk
  LIMIT k
$fn$;
