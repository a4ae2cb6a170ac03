-- embedsync.<table>_hybrid_search(...) for a chunked table: hybrid-search.sql's reciprocal rank fusion, same
-- signature and answer, with the vector side ranking rows by their best chunk (the least cosine distance of
-- any of the row's chunks by the recorded model among the 4 × candidates nearest chunks,
-- read through the model's partial hnsw index: same expression and checksum literal as chunk-search.sql;
-- exact without the index). The full-text side is unchanged: the row's tsvector covers the whole document,
-- not only its first 512 tokens.
DROP FUNCTION IF EXISTS {{function:hybrid_search}}(text, vector, integer, float8, float8, float8, integer);
CREATE OR REPLACE FUNCTION {{function:hybrid_search}}(query_text text, query_vector vector, k integer DEFAULT 10,
  text_weight float8 DEFAULT 1, vector_weight float8 DEFAULT 1, rrf_k float8 DEFAULT 60, candidates integer DEFAULT 100,
  text_matches integer DEFAULT 1000)
RETURNS TABLE (id {{id_type}}, score float8, text_rank integer, vector_rank integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  WITH v AS MATERIALIZED (
    SELECT n.id, (row_number() OVER (ORDER BY n.distance, n.id))::integer AS r FROM (
      SELECT m.id, min(m.distance) AS distance FROM (
        SELECT c.id, c.embedding::{{vector_type}}({{dimensions}}) <=> query_vector::{{vector_type}} AS distance
        FROM {{chunk_table}} c
        WHERE query_vector IS NOT NULL
          AND embedsync.check_query_dimensions(query_vector, (SELECT s.dimensions FROM embedsync.state s WHERE s.source = {{source_key}}), {{source_key}})
          AND c.model_checksum = {{model_checksum}}
        {{chunk_nearest:4,k,candidates}}
      ) m
      GROUP BY m.id
      ORDER BY distance, m.id
      LIMIT greatest(k, candidates)
    ) n
{{include:hybrid-fusion}}
$fn$;
