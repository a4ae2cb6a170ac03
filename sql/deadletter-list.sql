-- Source $1's dead letters, newest failure first, at most $2 (id breaks ties so pages are stable).
SELECT id, attempts, last_error, enqueued_at, failed_at FROM embedsync.deadletter WHERE source = $1 ORDER BY failed_at DESC, id LIMIT $2
