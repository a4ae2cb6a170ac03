-- Row $3 ended runs of the backfill of source $1 to model $2 alone $4 times: skipped by the rest of this migration
-- and dead-lettered with reason $5 in one statement, its queue entry gone as with any dead letter (fail.sql), so
-- that neither a rerun nor, after the swap, the daemons (whose sweeps leave dead letters alone) encode it again
-- until `deadletter retry` or a change of its text.
WITH skip AS (
  UPDATE embedsync.backfill_suspects SET in_hand = NULL, ends = 0, skipped = array_append(skipped, $3::text)
  WHERE source = $1 AND checksum = $2
), unqueued AS (
  DELETE FROM embedsync.queue WHERE source = $1 AND id = $3::text
)
INSERT INTO embedsync.deadletter (source, id, attempts, last_error, enqueued_at) VALUES ($1, $3, $4, $5, now())
ON CONFLICT (source, id) DO UPDATE SET attempts = excluded.attempts, last_error = excluded.last_error, failed_at = now()
