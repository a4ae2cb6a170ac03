-- Records a failed attempt for each of $2 (with error $3[i]) of source $1 still leased by $4. Below $5 attempts the row is
-- retried after an exponential backoff from $6 ms (capped at an hour, with jitter so failures do not retry
-- in lockstep); at $5 it moves to the dead-letter table. Both branches see the same snapshot and their
-- conditions are disjoint, so each row goes exactly one way. A retried row's claim is settled (claims - 1).
WITH f AS (
  SELECT * FROM unnest($2::text[], $3::text[]) AS f(id, error)
), dead AS (
  DELETE FROM embedsync.queue q USING f
  WHERE q.source = $1 AND q.id = f.id AND q.lease_owner = $4 AND q.attempts + 1 >= $5
  RETURNING q.source, q.id, q.attempts + 1 AS attempts, f.error, q.enqueued_at
), buried AS (
  INSERT INTO embedsync.deadletter AS x (source, id, attempts, last_error, enqueued_at)
  SELECT source, id, attempts, error, enqueued_at FROM dead
  ON CONFLICT (source, id) DO UPDATE SET attempts = excluded.attempts, last_error = excluded.last_error, failed_at = now()
  RETURNING x.id
), retried AS (
  UPDATE embedsync.queue q
  SET attempts = q.attempts + 1, last_error = f.error, lease_owner = NULL, claims = greatest(q.claims - 1, 0),
      next_attempt_at = clock_timestamp()
        + make_interval(secs => least(3600, $6 / 1000.0 * 2 ^ q.attempts) * (0.75 + random() * 0.5))
  FROM f
  WHERE q.source = $1 AND q.id = f.id AND q.lease_owner = $4 AND q.attempts + 1 < $5
  RETURNING q.id
)
SELECT (SELECT count(*) FROM buried)::int AS dead, (SELECT count(*) FROM retried)::int AS retried
