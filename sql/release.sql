-- Gives claimed rows back without counting an attempt (shutdown, backend unavailable, changed meanwhile):
-- due again after $4 ms. Only rows still leased by this owner ($3): another daemon may have taken over an
-- expired lease. $1 is the source. The release settles the claim (migrations/008_claim_count.sql).
UPDATE embedsync.queue
SET lease_owner = NULL, claims = greatest(claims - 1, 0), next_attempt_at = clock_timestamp() + make_interval(secs => $4 / 1000.0)
WHERE source = $1 AND id = ANY ($2::text[]) AND lease_owner = $3
