-- embedsync.<table>_hybrid_search(query_text, query_vector, k, text_weight, vector_weight, rrf_k, candidates, text_matches):
-- the k best rows for a query by reciprocal rank fusion of a full-text ranking and a vector ranking. Each side
-- ranks its own best `candidates` rows (at least k); a row scores
--     text_weight / (rrf_k + text_rank) + vector_weight / (rrf_k + vector_rank)
-- with a side's term 0 where the row is not among that side's candidates. text_rank and vector_rank are
-- returned too (NULL: not among them). Ties go to the row ranked higher by text, then by vector, so with equal
-- weights a row that matches the words of the query comes before one that is only near in meaning. Installed
-- by migrate for each table, and as the unqualified embedsync.hybrid_search for the first table (similar-to.sql).
--
-- Full-text side: websearch_to_tsquery in the table's text search configuration (EMBEDSYNC_TEXT_SEARCH_CONFIG,
-- the one the tsvector column was built with): words are ANDed, "quoted phrases", OR and -word work as in a
-- web search box; ranked by ts_rank. The GIN index on the tsvector column finds the matching rows; ranking
-- reads only those, and at most text_matches of them plus every vector candidate that matches: a word found in
-- half the table costs what text_matches rows cost, at any table size, and a row near in meaning that holds the
-- words keeps its text rank. The text_matches taken are those of highest id (the newest, for ids from a
-- sequence): an order, so that a query answers the same every time (a scan that stops at the first matches
-- would start where the last scan of the table left off: Postgres synchronizes scans of large tables); the
-- planner walks the primary key down for a common word, or sorts the few matches of a rare one. NULL ranks every
-- match (the cost grows with the matches). A query of no words (or a NULL text) matches nothing and the vector
-- side answers alone.
-- Vector side: the same ordered LIMIT as search.sql (the vector index serves it), cast to the column's type
-- ({{vector_type}}); rows of another model are skipped, a wrong-dimension query is refused before any row is
-- read, and a NULL query vector leaves the text side to answer alone.
-- Both sides are MATERIALIZED CTEs: each runs once, with its own index, before the fusion joins them.
-- The previous signature (without text_matches) is dropped first: left beside this one, a call with the
-- defaults would match both.
DROP FUNCTION IF EXISTS {{function:hybrid_search}}(text, vector, integer, float8, float8, float8, integer);
CREATE OR REPLACE FUNCTION {{function:hybrid_search}}(query_text text, query_vector vector, k integer DEFAULT 10,
  text_weight float8 DEFAULT 1, vector_weight float8 DEFAULT 1, rrf_k float8 DEFAULT 60, candidates integer DEFAULT 100,
  text_matches integer DEFAULT 1000)
RETURNS TABLE (id {{id_type}}, score float8, text_rank integer, vector_rank integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  WITH v AS MATERIALIZED (
    SELECT n.id, (row_number() OVER (ORDER BY n.distance, n.id))::integer AS r FROM (
      SELECT t.{{id}} AS id, t.{{embedding}} <=> query_vector::{{vector_type}} AS distance
      FROM {{table}} t
      WHERE query_vector IS NOT NULL
        AND embedsync.check_query_dimensions(query_vector, (SELECT s.dimensions FROM embedsync.state s WHERE s.source = {{source_key}}), {{source_key}})
        AND t.{{checksum}} = (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}})
      ORDER BY t.{{embedding}} <=> query_vector::{{vector_type}}
      LIMIT greatest(k, candidates)
    ) n
{{include:hybrid-fusion}}
$fn$;
