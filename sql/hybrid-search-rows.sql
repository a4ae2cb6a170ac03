-- What POST /search and `embedsync search --hybrid` run: the table's hybrid search function with the query's
-- text ($1) and vector ($2, binary), k ($3) and the weights ($4 text, $5 vector; NULL: the function's
-- defaults). A plain call, so Postgres inlines the function (WITH ORDINALITY would not let it, and costs a
-- plan per call); the ORDER BY restates the function's own order, which no two rows share.
SELECT h.id::text AS id, h.score, h.text_rank, h.vector_rank
FROM {{table_function:hybrid_search}}($1, $2::vector, $3, coalesce($4::float8, 1), coalesce($5::float8, 1)) h
ORDER BY h.score DESC, h.text_rank NULLS LAST, h.vector_rank NULLS LAST
