-- Marks migration $1 (file $2) applied, in the transaction that ran it, so a failed one runs again whole.
INSERT INTO embedsync.migrations (version, name) VALUES ($1, $2)
