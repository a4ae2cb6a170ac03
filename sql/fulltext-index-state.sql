-- Table $1's full-text index $2 as migrate finds it: whether the table is partitioned (no CONCURRENTLY), its
-- schema and whether the index is valid (NULL: there is none; false: a concurrent build was interrupted).
SELECT c.relkind = 'p' AS partitioned, n.nspname AS schema, i.indisvalid AS valid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN (pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid AND ic.relname = $2) ON i.indrelid = c.oid
WHERE c.oid = $1::regclass
