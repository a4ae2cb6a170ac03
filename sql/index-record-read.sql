-- What the last build of source $1's vector index recorded (rows trained on, lists, build time): the
-- catalog keeps no row count at build time, and the rebuild policy measures drift from it.
SELECT * FROM embedsync.vector_index WHERE source = $1
