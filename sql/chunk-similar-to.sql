-- embedsync.<table>_similar_to(id, k) for a chunked table: the k rows nearest to row `id`, excluding it, each
-- once with the score of its chunk nearest to the row's own vector (the normalised mean of its chunks, which
-- stands for the whole document). A row without a vector (missing id, not embedded yet) has no neighbours.
-- The probe is a scalar subquery evaluated once (an InitPlan), so the model's partial hnsw index serves the
-- inner ORDER BY ... LIMIT as in chunk-search.sql (same expression, same checksum literal; 5 × k, one more
-- than search's 4 × k, as the row's own chunks are read and left out). Chunks of another model are skipped.
CREATE OR REPLACE FUNCTION {{function:similar_to}}(target_id {{id_type}}, k integer DEFAULT 10)
RETURNS TABLE (id {{id_type}}, score float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT b.id, b.score FROM (
    SELECT n.id, max(1 - n.distance) AS score FROM (
      SELECT c.id, c.embedding::{{vector_type}}({{dimensions}}) <=> (SELECT x.{{embedding}}::{{vector_type}} FROM {{table}} x WHERE x.{{id}} = target_id) AS distance
      FROM {{chunk_table}} c
      WHERE (SELECT x.{{embedding}} FROM {{table}} x WHERE x.{{id}} = target_id) IS NOT NULL
        AND c.model_checksum = {{model_checksum}}
      {{chunk_nearest:5,k}}
    ) n
    WHERE n.id <> target_id
    GROUP BY n.id
  ) b
  ORDER BY b.score DESC, b.id
  LIMIT k
$fn$;
