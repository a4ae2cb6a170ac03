-- Forgets the recorded vector index of source $1 when its index is gone (dropped with its column), so
-- index status and maintenance do not compare against a build that no longer exists.
DELETE FROM embedsync.vector_index WHERE source = $1
