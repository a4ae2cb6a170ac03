-- The hnsw indexes of a chunk table ($1, regclass text): name (schema-qualified, as regclass spells it), valid
-- (false: a concurrent build that died half-way), and whether its predicate names a model the state still
-- names ($2: the source key), the current one or a migration's target. The others are dropped (chunk-index.ts).
SELECT i.indexrelid::regclass::text AS name,
       c.relname AS bare,
       i.indisvalid AS valid,
       EXISTS (SELECT 1 FROM embedsync.state s
               WHERE s.source = $2
                 AND (strpos(pg_get_expr(i.indpred, i.indrelid), quote_literal(s.model_checksum)) > 0
                      OR (s.target_checksum IS NOT NULL
                          AND strpos(pg_get_expr(i.indpred, i.indrelid), quote_literal(s.target_checksum)) > 0))) AS named
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam
WHERE i.indrelid = to_regclass($1) AND a.amname = 'hnsw'
ORDER BY c.relname
