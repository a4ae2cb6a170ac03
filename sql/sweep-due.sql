-- When pass $2 of source $1 is next due, in seconds from now (0: due, so another daemon holds it).
-- Read without a lock after sweep-claim found nothing: a daemon that woke before the pace's next step waits
-- until it, not a whole poll, so a round keeps its pace however the daemons' timers fall.
SELECT greatest(extract(epoch FROM due_at - now()), 0)::float8 AS due_in_seconds
FROM embedsync.sweep
WHERE source = $1 AND pass = $2
