-- The tables a source could be (ordinary and partitioned, outside the system schemas and embedsync's own), for
-- the "nearest table names" of a missing EMBEDSYNC_TABLE. Partitions are left out: the parent is the source.
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'embedsync') AND n.nspname NOT LIKE 'pg\_%'
ORDER BY n.nspname, c.relname
