-- What POST /search and `embedsync search` run for a vector query: the table's own search function (so they
-- answer exactly what the SQL function answers), $1 the query vector in pgvector's binary format, $2 k,
-- $3 min_score. The function orders by distance; the ORDER BY here states the order the callers return.
SELECT h.id::text AS id, h.score FROM {{table_function:search}}($1::vector, $2, $3) h ORDER BY h.score DESC
