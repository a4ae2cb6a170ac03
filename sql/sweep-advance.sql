-- Records one step of pass $2 of source $1 (the row is held by sweep-claim in this transaction): $3 the new
-- position (NULL when the round finished), $4 rows looked at, $5 rows enqueued, $6 seconds until the next
-- step. A finished round stamps last_finished_at: `embedsync status` shows when the table was last verified.
UPDATE embedsync.sweep SET
  due_at            = now() + make_interval(secs => $6),
  position          = $3,
  round_started_at  = CASE WHEN $3::text IS NULL THEN NULL ELSE coalesce(round_started_at, now()) END,
  round_rows        = CASE WHEN $3::text IS NULL THEN 0 ELSE round_rows + $4 END,
  round_found       = CASE WHEN $3::text IS NULL THEN 0 ELSE round_found + $5 END,
  last_finished_at  = CASE WHEN $3::text IS NULL THEN now() ELSE last_finished_at END,
  last_round_seconds = CASE WHEN $3::text IS NULL THEN extract(epoch FROM now() - coalesce(round_started_at, now()))::float8 ELSE last_round_seconds END,
  last_found        = CASE WHEN $3::text IS NULL THEN round_found + $5 ELSE last_found END,
  rows_total        = rows_total + $4,
  found_total       = found_total + $5
WHERE source = $1 AND pass = $2
RETURNING round_rows, last_finished_at
