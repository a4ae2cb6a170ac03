-- The columns of the source table that EMBEDSYNC_DOCUMENT_SQL reads, as the catalog records them for a view of
-- the expression (a whole-row reference depends on every column, recorded as column 0): the UPDATE trigger fires
-- on changes to these only. Run inside migrate's transaction; the probe view is temporary and dropped at once.
CREATE TEMP VIEW embedsync_document_probe AS SELECT ({{document_expression}})::text AS document FROM {{table}} AS r;
SELECT a.attname
FROM pg_attribute a
WHERE a.attrelid = '{{source_key_text}}'::regclass AND a.attnum > 0 AND NOT a.attisdropped
  AND EXISTS (
    SELECT 1 FROM pg_depend d JOIN pg_rewrite w ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
    WHERE w.ev_class = 'embedsync_document_probe'::regclass AND d.refobjid = a.attrelid AND d.refobjsubid IN (0, a.attnum))
ORDER BY a.attnum;
DROP VIEW embedsync_document_probe;
