-- Starts a model migration of source $1 to model $2 ($3 checksum, $4 dimensions): the target on the state
-- row is what resumes a stopped migration and what daemons of the new model read to find the shadow columns. The
-- backfill's record of rows in hand (backfill-hold.sql), kept after the migration ends, starts empty.
WITH fresh AS (DELETE FROM embedsync.backfill_suspects WHERE source = $1)
UPDATE embedsync.state
SET target_model = $2, target_checksum = $3, target_dimensions = $4, migration_step = 'started',
    migration_started = now(), updated_at = now()
WHERE source = $1
