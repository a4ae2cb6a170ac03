-- The documents of claimed ids ($1, text ids cast back to the source's id type so the primary key index is
-- used), with the hash of the text the stored embedding was made from, so unchanged text is not re-encoded.
-- The document is built once per row (lateral) and hashed in SQL, the same way the write path re-checks it.
-- stale: whether the row needs encoding by the writer's model $2, by the same rule as the sweep and backfill.
SELECT t.{{id}}::text AS id,
       d.document,
       md5(d.document)::uuid::text AS hash,
       t.{{text_hash}}::text AS stored_hash,
       t.{{checksum}} AS stored_checksum,
       t.{{embedding}} IS NULL AS missing,
       {{stale:t,d.document,$2}} AS stale
FROM {{table}} t
CROSS JOIN LATERAL (SELECT {{document:t}} AS document) d
WHERE t.{{id}} = ANY ($1::text[]::{{id_type}}[])
