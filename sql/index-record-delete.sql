-- Forgets source $1's index record once the index is dropped (EMBEDSYNC_INDEX=none): a stale record would
-- be read as the training size of the next index built.
DELETE FROM embedsync.vector_index WHERE source = $1
