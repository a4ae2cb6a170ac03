-- The documents of claimed ids ($1, text ids cast back to the source's id type so the primary key index is
-- used), each with whether it needs encoding by the writer's model $2 (the same rule as the sweep and the
-- backfill: another model, other text, or a vector where the document is blank / none where it is not), so
-- unchanged text is not re-encoded. The document is built once per row (lateral) and hashed in SQL, the same
-- way the write path re-checks it.
SELECT t.{{id}}::text AS id,
       d.document,
       md5(d.document)::uuid::text AS hash,
       {{unsynced:t,d.document,$2}} AS unsynced
FROM {{table}} t
CROSS JOIN LATERAL (SELECT {{document:t}} AS document) d
WHERE t.{{id}} = ANY ($1::text[]::{{id_type}}[])
