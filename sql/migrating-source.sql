-- Migrations that key existing rows by source need to know which table this migrate is for: source $1,
-- for the rest of the migration's transaction only.
SELECT set_config('embedsync.migrating_source', $1, true)
