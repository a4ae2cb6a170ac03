-- Keeps a slow batch's lease alive ($2 ids, $3 owner, $4 seconds from now): a batch that outlives its lease
-- would be claimed and encoded a second time by another daemon. Only rows this owner still holds ($1 source).
UPDATE embedsync.queue
SET next_attempt_at = clock_timestamp() + make_interval(secs => $4)
WHERE source = $1 AND id = ANY ($2::text[]) AND lease_owner = $3
