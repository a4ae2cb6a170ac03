-- Releases changes-lock.sql's lock on source $1.
SELECT pg_advisory_unlock(1701667444, hashtext($1))
