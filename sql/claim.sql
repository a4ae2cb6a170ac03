-- Claims up to $2 due queue rows of source $1 for lease owner $3 for $4 seconds, live lane first: bulk rows
-- (at most $6: 0 for the daemon's live-only loop) fill what live leaves, and at least $5 of the batch goes to
-- bulk while bulk has due rows, so a continuous live stream cannot stop the backlog (the caller carries the
-- fractional share from claim to claim).
-- Each lane is one range scan of queue_lane_due (source, lane, next_attempt_at) that stops at the batch size;
-- SKIP LOCKED lets several daemons claim side by side. The up to $2 rows a lane scan locks but the batch does
-- not take are unlocked when this statement commits. The lease *is* next_attempt_at (pushed to the lease
-- expiry), so rows of a daemon that died become due again by themselves, with no separate reaper. `claims`
-- counts the claim (an outcome takes it off again), so a claim the process never settled shows when the row
-- comes back.
WITH live AS (
  SELECT id, next_attempt_at FROM embedsync.queue
  WHERE source = $1 AND lane = 0 AND next_attempt_at <= now()
  ORDER BY next_attempt_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), bulk AS (
  SELECT id, next_attempt_at FROM embedsync.queue
  WHERE source = $1 AND lane = 1 AND next_attempt_at <= now()
  ORDER BY next_attempt_at
  LIMIT $6
  FOR UPDATE SKIP LOCKED
), take AS (
  -- Live takes the batch but for bulk's reserve ($5, or fewer when bulk has fewer due rows).
  SELECT least((SELECT count(*) FROM live), $2 - least($5::int, (SELECT count(*) FROM bulk))) AS live_rows
), due AS (
  (SELECT id FROM live ORDER BY next_attempt_at LIMIT (SELECT live_rows FROM take))
  UNION ALL
  (SELECT id FROM bulk ORDER BY next_attempt_at LIMIT $2 - (SELECT live_rows FROM take))
)
UPDATE embedsync.queue q
SET lease_owner = $3, next_attempt_at = clock_timestamp() + make_interval(secs => $4), claims = q.claims + 1
FROM due
WHERE q.source = $1 AND q.id = due.id
RETURNING q.id, q.version::text AS version, q.attempts, q.last_error, q.lane, q.claims
