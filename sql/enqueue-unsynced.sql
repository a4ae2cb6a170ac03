-- One chunk of the reconciliation sweep (and of migrate's enqueue pass): walks the source by primary key after
-- $2 (NULL to start), $4 rows at a time, and enqueues (as source $1) rows that are unsynced for model $3 (the
-- one rule of sql-template.ts: a vector missing, by another model, or made from other text, e.g. a change the
-- triggers did not see with triggers disabled during a restore). Keyset paging keeps each statement short;
-- ON CONFLICT DO NOTHING leaves pending work and leases untouched. Dead-lettered rows are left where they are, as
-- the cheap pass and the watch leave them: unsynced by definition, each round (or migrate run) would otherwise
-- queue them again, and a row that ends the process would crash-loop the daemons once more per round. They leave
-- the dead letters through `deadletter retry`, a change the triggers see, DELETE or TRUNCATE.
WITH chunk AS (
  SELECT t.{{id}} AS id,
         {{unsynced:t,d.document,$3}} AS unsynced
  FROM {{table}} t
  CROSS JOIN LATERAL (SELECT {{document:t}} AS document) d
  {{keyset_page:t,$2,$4}}
), enqueued AS (
  INSERT INTO embedsync.queue (source, id)
  SELECT $1, c.id::text FROM chunk c
  WHERE c.unsynced AND NOT EXISTS (SELECT 1 FROM embedsync.deadletter x WHERE x.source = $1 AND x.id = c.id::text)
  ON CONFLICT (source, id) DO NOTHING
  RETURNING 1
)
SELECT (SELECT c.id::text FROM chunk c ORDER BY c.id DESC LIMIT 1) AS last_id,
       (SELECT count(*) FROM chunk)::int AS scanned,
       (SELECT count(*) FROM enqueued)::int AS enqueued
