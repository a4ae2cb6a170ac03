-- The settings migrate recorded for source $1 (embedsync.sources), compared with the configured ones before
-- migrate changes anything.
SELECT * FROM embedsync.sources WHERE source = $1
