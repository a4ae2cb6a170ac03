-- The type name (vector or halfvec) of column $2 of table $1: an index build takes the operator class of the
-- column it indexes, which during a switch of EMBEDSYNC_VECTOR_TYPE differs between the main and shadow columns.
SELECT t.typname AS type FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped
