-- The frequent, cheap sweep pass ($1 source, $2 current model checksum, $3 at most this many rows): rows with
-- no vector yet (checksum NULL: inserted or restored with the triggers disabled) or another model's vector,
-- that are neither queued nor dead-lettered. The condition is the predicate of the partial index migrate
-- creates for the current model (source-sweep-index), so the planner reads that index: when nearly every row
-- is current, a few pages, not the table. Rows whose text changed behind the triggers' back keep the current
-- checksum: the verification pass (enqueue-unsynced) finds those.
WITH found AS (
  SELECT t.{{id}} AS id
  FROM {{table}} t
  WHERE t.{{checksum}} IS DISTINCT FROM $2
    AND NOT EXISTS (SELECT 1 FROM embedsync.queue q WHERE q.source = $1 AND q.id = t.{{id}}::text)
    AND NOT EXISTS (SELECT 1 FROM embedsync.deadletter x WHERE x.source = $1 AND x.id = t.{{id}}::text)
  LIMIT $3
), enqueued AS (
  INSERT INTO embedsync.queue (source, id)
  SELECT $1, id::text FROM found
  ON CONFLICT (source, id) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM found)::int AS scanned, (SELECT count(*) FROM enqueued)::int AS enqueued
