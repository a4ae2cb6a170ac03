-- The migrations/ files already applied to this database (forward-only: the rest run in order).
SELECT version FROM embedsync.migrations
