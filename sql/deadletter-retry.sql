-- Moves source $1's dead letters $2 (all of them when NULL) back to the queue with a fresh attempt count, in
-- one statement so none is lost or doubled between the delete and the insert. A row queued again meanwhile
-- (changed since) keeps its version but is made due now, unleased, with its attempts and claims reset.
WITH moved AS (
  DELETE FROM embedsync.deadletter WHERE source = $1 AND ($2::text[] IS NULL OR id = ANY ($2::text[]))
  RETURNING source, id, enqueued_at, last_error
), requeued AS (
  INSERT INTO embedsync.queue AS q (source, id, enqueued_at, last_error)
  SELECT source, id, enqueued_at, last_error FROM moved
  ON CONFLICT (source, id) DO UPDATE SET attempts = 0, claims = 0, next_attempt_at = now(), lease_owner = NULL
  RETURNING 1
)
SELECT (SELECT count(*) FROM requeued)::int AS n
