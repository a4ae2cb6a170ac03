-- Partition indexes an interrupted build of table $1 left unattached (names starting with $2, the index
-- name's first 40 bytes as childName makes them): attached to nothing, yet maintained by every write, so
-- they are dropped before the next build. Quoted by the catalog, ready to splice.
SELECT quote_ident(n.nspname) || '.' || quote_ident(ic.relname) AS q
FROM pg_partition_tree($1::regclass) p JOIN pg_index i ON i.indrelid = p.relid
JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE p.parentrelid IS NOT NULL AND starts_with(ic.relname, $2)
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = ic.oid)
