-- Table $1's new-rows index $2 (quoted, schema-qualified) as migrate and the daemon find it: whether the table is
-- partitioned (no CONCURRENTLY) and whether the index is there and valid (NULL: there is none; false: a
-- concurrent build was interrupted and left it invalid).
SELECT c.relkind = 'p' AS partitioned,
       (SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($2)) AS valid
FROM pg_class c WHERE c.oid = $1::regclass
