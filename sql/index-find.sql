-- Vector indexes (ivfflat/hnsw) on column $2 of table $1, valid or left invalid by a failed build, with
-- their storage options (an ivfflat index's lists tell how many rows it was trained for). Found by column
-- and access method rather than by name: an index made by hand, or left under a build's temporary name,
-- counts too.
SELECT c.relname AS name, am.amname AS kind, i.indisvalid AS valid, c.reloptions AS options
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = $1::regclass AND a.attname = $2 AND am.amname IN ('ivfflat', 'hnsw')
ORDER BY c.relname
