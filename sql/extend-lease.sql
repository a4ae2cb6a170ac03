-- Keeps a slow batch's lease alive ($1 ids, $2 owner, $3 seconds from now): a batch that outlives its lease
-- would be claimed and encoded a second time by another daemon. Only rows this owner still holds ($4 source).
UPDATE embedsync.queue
SET next_attempt_at = clock_timestamp() + make_interval(secs => $3)
WHERE source = $4 AND id = ANY ($1::text[]) AND lease_owner = $2
