-- Runs once, on an empty data directory, after the demo table: installs the compiled UPDATE trigger function
-- (it creates schema embedsync). migrate runs as POSTGRES_USER, a superuser here, so it may execute the function
-- and installs the UPDATE triggers with it (`updates: compiled function` in its report).
CREATE EXTENSION IF NOT EXISTS embedsync_capture;
