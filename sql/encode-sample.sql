-- Up to $1 of the table's own non-blank documents in key order, to measure the encode rate on what the
-- backfill will see (document length drives the cost). Rows dead-lettered for source $2 are left out: a row
-- that ended a process or was refused would end or fail every `migrate --dry-run` at this sample.
SELECT d FROM (
  SELECT {{document:t}} AS d FROM {{table}} t
  WHERE NOT EXISTS (SELECT 1 FROM embedsync.deadletter x WHERE x.source = $2 AND x.id = t.{{id}}::text)
  ORDER BY t.{{id}} LIMIT $1
) x WHERE d <> ''
