-- embedsync.<table>_search_chunks(query, k, min_score): the k passages (chunks) nearest to a query vector, for
-- display: the row's id, the chunk's number and text, and its score (1 - cosine distance), scores >= min_score.
-- A row may answer with several passages. Chunks of the recorded model only; a wrong-dimension query is
-- refused before any chunk is read (the gate of search.sql). The distance is computed once per chunk and the
-- ORDER BY sorts by that output column (a top-k sort): ordering by the expression again computed it twice.
CREATE OR REPLACE FUNCTION {{function:search_chunks}}(query vector, k integer DEFAULT 10, min_score float8 DEFAULT 0)
RETURNS TABLE (id {{id_type}}, chunk integer, chunk_text text, score float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT n.id, n.chunk, n.chunk_text, 1 - n.distance FROM (
    SELECT c.id, c.chunk, c.chunk_text, c.embedding <=> query AS distance
    FROM {{chunk_table}} c
    WHERE embedsync.check_query_dimensions(query, (SELECT s.dimensions FROM embedsync.state s WHERE s.source = {{source_key}}), {{source_key}})
      AND c.model_checksum = (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}})
    ORDER BY distance, c.id, c.chunk
    LIMIT k
  ) n
  WHERE 1 - n.distance >= min_score
$fn$;
