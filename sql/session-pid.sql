-- This connection's backend pid, so a long statement on it (an index build) can be cancelled from another
-- connection (session-cancel) when the process shuts down.
SELECT pg_backend_pid() AS pid
