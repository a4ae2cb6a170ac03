-- Forgets the model migration of source $1: when it finished, was aborted, or its columns were dropped in
-- place. Daemons of the target model then write the main columns or nothing (the state trigger tells them).
UPDATE embedsync.state
SET target_model = NULL, target_checksum = NULL, target_dimensions = NULL, migration_step = NULL,
    migration_started = NULL, updated_at = now()
WHERE source = $1
