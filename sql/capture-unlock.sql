-- Releases capture-lock.sql's lock on slot $1.
SELECT pg_advisory_unlock(1701667443, hashtext($1))
