-- Cancels the statement running on backend $1 (session-pid), from another connection: the build's own
-- connection is busy until its statement ends. The session survives; only the statement fails.
SELECT pg_cancel_backend($1)
