-- Embedding coverage of the source for status ($1 = current model checksum). A full scan, so status only, and
-- only on a small table or with --exact (row-coverage-estimate otherwise): the daemon never runs it. IS NULL
-- does not detoast vectors.
SELECT count(*) FILTER (WHERE t.{{checksum}} = $1 AND t.{{embedding}} IS NOT NULL)::int AS current,
       count(*) FILTER (WHERE t.{{checksum}} = $1 AND t.{{embedding}} IS NULL)::int AS blank,
       count(*) FILTER (WHERE t.{{checksum}} IS DISTINCT FROM $1 AND t.{{embedding}} IS NOT NULL)::int AS stale,
       count(*) FILTER (WHERE t.{{checksum}} IS DISTINCT FROM $1 AND t.{{embedding}} IS NULL)::int AS missing,
       count(*)::int AS total
FROM {{table}} t
