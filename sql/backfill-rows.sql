-- The backfill's read of rows $1 (ids as text) of a batch it encodes again after a run ended while holding them:
-- the same columns as backfill-chunk.sql, for model $2, in key order.
SELECT t.{{id}}::text AS id,
       d.document,
       md5(d.document)::uuid::text AS hash,
       {{unsynced:t,d.document,$2}} AS unsynced
FROM {{table}} t
CROSS JOIN LATERAL (SELECT {{document:t}} AS document) d
WHERE t.{{id}} = ANY ($1::text[]::{{id_type}}[])
ORDER BY t.{{id}}
