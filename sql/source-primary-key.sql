-- The primary key columns of table $1 (in key order), for the error of a missing EMBEDSYNC_ID_COLUMN: the key
-- is the likely right value. Empty for a table without a primary key.
SELECT a.attname AS name
FROM pg_index i
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos) ON true
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = to_regclass($1) AND i.indisprimary
ORDER BY k.pos
