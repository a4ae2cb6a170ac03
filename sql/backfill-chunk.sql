-- One chunk of a dimension migration's backfill: the next $2 rows after id $1 (NULL to start) in key order,
-- with their document and whether the vector columns rendered here (the shadow ones) still need it for
-- model $3: no vector of that model, or one made from other text. Keyset paging keeps each statement short
-- and lets a rerun skip the finished part of the table quickly.
SELECT t.{{id}}::text AS id,
       d.document,
       md5(d.document)::uuid::text AS hash,
       (t.{{checksum}} IS DISTINCT FROM $3
        OR t.{{text_hash}} IS DISTINCT FROM md5(d.document)::uuid
        OR (t.{{embedding}} IS NULL AND d.document <> '')) AS stale
FROM {{table}} t
CROSS JOIN LATERAL (SELECT {{document:t}} AS document) d
WHERE $1::text IS NULL OR t.{{id}} > $1::text::{{id_type}}
ORDER BY t.{{id}}
LIMIT $2
