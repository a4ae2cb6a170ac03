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
  ), f AS MATERIALIZED (
    SELECT m.id, (row_number() OVER (ORDER BY m.rank DESC, m.id))::integer AS r FROM (
      SELECT c.id, c.rank
      FROM websearch_to_tsquery({{ts_config}}, coalesce(query_text, '')) AS q(q), LATERAL (
        SELECT t.id, ts_rank(t.tsv, q.q) AS rank FROM (
          SELECT t.{{id}} AS id, t.{{fulltext}} AS tsv FROM {{table}} t WHERE t.{{fulltext}} @@ q.q
          ORDER BY t.{{id}} DESC LIMIT text_matches
        ) t
        UNION
        SELECT t.{{id}}, ts_rank(t.{{fulltext}}, q.q)
        FROM v JOIN {{table}} t ON t.{{id}} = v.id
        WHERE t.{{fulltext}} @@ q.q
      ) c
      ORDER BY c.rank DESC, c.id
      LIMIT greatest(k, candidates)
    ) m
  )
  SELECT coalesce(f.id, v.id),
         coalesce(text_weight / (rrf_k + f.r), 0) + coalesce(vector_weight / (rrf_k + v.r), 0),
         f.r, v.r
  FROM f FULL JOIN v ON v.id = f.id
  ORDER BY 2 DESC, f.r NULLS LAST, v.r NULLS LAST
  LIMIT k
$fn$;
