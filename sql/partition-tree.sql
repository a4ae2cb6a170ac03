-- Every relation of partitioned table $1, parents before their partitions (by level), each with its name as
-- the catalog quotes it, its parent's, and the planner's row estimate: a leaf's ivfflat lists follow its own
-- rows. Any depth: sub-partitioned tables come out whole.
SELECT p.relid::regclass::text AS rel, n.nspname AS schema, p.parentrelid::regclass::text AS parent, p.isleaf AS leaf,
       greatest(c.reltuples, 0)::float8 AS rows
FROM pg_partition_tree($1::regclass) p JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
ORDER BY p.level, p.relid
