-- Table $1's sweep index $2 as migrate finds it: whether the table is partitioned (no CONCURRENTLY), its
-- schema, whether the index is valid (NULL: there is none) and whether its predicate names model checksum
-- $3 (the literal of the current model). The LEFT JOIN keeps the table's row when the index is missing.
SELECT c.relkind = 'p' AS partitioned, n.nspname AS schema, i.indisvalid AS valid,
       strpos(pg_get_expr(i.indpred, i.indrelid), $3) > 0 AS current
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN (pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid AND ic.relname = $2) ON i.indrelid = c.oid
WHERE c.oid = $1::regclass
