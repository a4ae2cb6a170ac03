-- embedsync.<table>_similar_to(id, k) for a chunked table: the k rows nearest to row `id`, excluding it, each
-- once with the score of its chunk nearest to the row's own vector (the normalised mean of its chunks, which
-- stands for the whole document). A row without a vector (missing id, not embedded yet) has no neighbours.
-- The probe is a scalar subquery evaluated once; chunks of another model than the recorded one are skipped.
CREATE OR REPLACE FUNCTION {{function:similar_to}}(target_id {{id_type}}, k integer DEFAULT 10)
RETURNS TABLE (id {{id_type}}, score float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT b.id, b.score FROM (
    SELECT c.id, max(1 - (c.embedding <=> p.v)) AS score
    FROM {{chunk_table}} c,
         (SELECT (SELECT x.{{embedding}}::vector FROM {{table}} x WHERE x.{{id}} = target_id) AS v) p
    WHERE c.id <> target_id
      AND p.v IS NOT NULL
      AND c.model_checksum = (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}})
    GROUP BY c.id
  ) b
  ORDER BY b.score DESC, b.id
  LIMIT k
$fn$;
