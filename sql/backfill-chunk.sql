-- One chunk of a dimension migration's backfill: the next $2 rows after id $1 (NULL to start) in key order,
-- with their document and whether the vector columns rendered here (the shadow ones) still need it for
-- model $3 (unsynced: the one rule of sql-template.ts). Keyset paging keeps each statement short and lets a rerun
-- skip the finished part of the table quickly.
SELECT t.{{id}}::text AS id,
       d.document,
       md5(d.document)::uuid::text AS hash,
       {{unsynced:t,d.document,$3}} AS unsynced
FROM {{table}} t
CROSS JOIN LATERAL (SELECT {{document:t}} AS document) d
{{keyset_page:t,$1,$2}}
