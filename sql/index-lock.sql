-- The index builds of a database contend for advisory lock $1 (bigint as text). try: a daemon that finds
-- it held skips this round instead of waiting; session-level, so it outlives the build's transactions.
SELECT pg_try_advisory_lock($1) AS ok
