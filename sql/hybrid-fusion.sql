-- The full-text side and the fusion of embedsync.<table>_hybrid_search, after its vector side `v`: the part
-- hybrid-search.sql (rows' vectors) and chunk-hybrid-search.sql (rows by their best chunk) share, spliced into
-- both by an include placeholder. What each part does and why: hybrid-search.sql's header.
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
