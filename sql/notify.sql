-- Wakes listening daemons after rows were queued behind the source triggers' back (sweeps, dead-letter
-- replay): the triggers notify for their own inserts only. The payload $1 is how many, as text.
SELECT pg_notify('embedsync', $1)
