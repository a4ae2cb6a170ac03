-- One daemon reads a table's slot at a time (the slot allows one reader): a session advisory lock on the slot
-- name $1, taken without waiting (another daemon reading now will have the changes in the queue in a moment).
SELECT pg_try_advisory_lock(1701667443, hashtext($1)) AS ok
