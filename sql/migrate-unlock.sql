-- Releases the migrate lock $1 taken by migrate-lock-try on this session.
SELECT pg_advisory_unlock($1)
