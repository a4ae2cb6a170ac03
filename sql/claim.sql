-- Claims up to $1 due queue rows of source $4 for lease owner $2 for $3 seconds.
-- SKIP LOCKED lets several daemons claim side by side without waiting on each other; the oldest due rows go
-- first via the next_attempt_at index. The lease *is* next_attempt_at (pushed to the lease expiry), so rows
-- of a daemon that died become due again by themselves, with no separate reaper. `claims` counts the claim
-- (an outcome takes it off again), so a claim the process never settled shows when the row comes back.
WITH due AS (
  SELECT id FROM embedsync.queue
  WHERE source = $4 AND next_attempt_at <= now()
  ORDER BY next_attempt_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
UPDATE embedsync.queue q
SET lease_owner = $2, next_attempt_at = clock_timestamp() + make_interval(secs => $3), claims = q.claims + 1
FROM due
WHERE q.source = $4 AND q.id = due.id
RETURNING q.id, q.version::text AS version, q.attempts, q.last_error, q.claims
