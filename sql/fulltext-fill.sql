-- One chunk of filling the tsvector column: the next $2 rows after id $1 (NULL to start) in key order get
-- their document's tsvector, all of them when $3 (the configuration changed), else only those that have none
-- (rows from before the column existed). The daemon's write keeps it current from then on. Keyset chunks keep
-- each statement (and its row locks) short on a large table, and a rerun skips the filled part quickly; the
-- update changes no document column, so the source's triggers queue nothing. Returns the chunk's last id
-- (NULL: the table is done) and how many rows were written.
WITH page AS (
  SELECT t.{{id}} AS id FROM {{table}} t
  {{keyset_page:t,$1,$2}}
), filled AS (
  UPDATE {{table}} t SET {{fulltext}} = to_tsvector({{ts_config}}, {{document:t}})
  FROM page p
  -- The = ANY makes the primary key drive the plan: without it the planner may hash-join a scan of the whole table
  -- to every chunk (the statistics do not know how many rows lack a tsvector), which made a rerun quadratic.
  WHERE t.{{id}} = ANY (ARRAY(SELECT pp.id FROM page pp)) AND t.{{id}} = p.id AND ($3::boolean OR t.{{fulltext}} IS NULL)
  RETURNING 1
)
SELECT (SELECT p.id::text FROM page p ORDER BY p.id DESC LIMIT 1) AS last, (SELECT count(*)::int FROM filled) AS filled
