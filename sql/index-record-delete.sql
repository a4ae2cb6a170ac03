-- Forgets source $1's index record once its index is gone: dropped (EMBEDSYNC_INDEX=none), or dropped with
-- its column by a model change. A stale record would be read as the training size of the next index built.
DELETE FROM embedsync.vector_index WHERE source = $1
