-- The swap's state change for source $1: the target becomes the recorded model in the same transaction that
-- renames the shadow columns into place, so the write guard and the search functions switch with them.
UPDATE embedsync.state
SET model = target_model, model_checksum = target_checksum, dimensions = target_dimensions,
    migration_step = 'swapped', updated_at = now()
WHERE source = $1
