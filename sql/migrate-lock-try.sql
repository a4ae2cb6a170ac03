-- Tries the migrate lock $1 (a session advisory lock) without waiting: the caller polls, because waiting
-- here would hold a transaction open that the lock holder's CREATE INDEX CONCURRENTLY waits for.
SELECT pg_try_advisory_lock($1) AS ok
