-- Up to $1 of the table's own non-blank documents in key order, to measure the encode rate on what the
-- backfill will see (document length drives the cost).
SELECT d FROM (SELECT {{document:t}} AS d FROM {{table}} t ORDER BY t.{{id}} LIMIT $1) x WHERE d <> ''
