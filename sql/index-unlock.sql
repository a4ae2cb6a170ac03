-- Releases advisory lock $1 (index-lock) before the connection goes back to the pool: a session lock would
-- otherwise stay with the pooled connection.
SELECT pg_advisory_unlock($1)
