-- Embedding coverage of the source for status ($1 = current model checksum). A full scan, so status only:
-- the daemon's hot path never runs it. IS NULL does not detoast vectors.
SELECT count(*) FILTER (WHERE t.{{checksum}} = $1 AND t.{{embedding}} IS NOT NULL)::int AS current,
       count(*) FILTER (WHERE t.{{checksum}} = $1 AND t.{{embedding}} IS NULL)::int AS blank,
       count(*) FILTER (WHERE t.{{checksum}} IS DISTINCT FROM $1 AND t.{{embedding}} IS NOT NULL)::int AS stale,
       count(*) FILTER (WHERE t.{{checksum}} IS DISTINCT FROM $1 AND t.{{embedding}} IS NULL)::int AS missing,
       count(*)::int AS total
FROM {{table}} t
