-- migrate's plan: rows model $1 must encode (a non-blank document, unsynced by the one rule) and all rows.
-- Rendered with the shadow columns for a shadow migration; the unsynced rule is true for every row when the vector
-- columns do not exist yet. $1::text IS NOT NULL types $1 even then, and is true.
SELECT count(*) FILTER (WHERE d.document <> '' AND {{unsynced:t,d.document,$1}}) AS n, count(*) AS total
FROM {{table}} t
CROSS JOIN LATERAL (SELECT {{document:t}} AS document) d
WHERE $1::text IS NOT NULL
