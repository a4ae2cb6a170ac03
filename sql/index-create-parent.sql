-- The partitioned parent's vector index: ON ONLY creates it empty and invalid, without touching the
-- partitions (Postgres cannot build it CONCURRENTLY); it turns valid once every partition's index, built
-- concurrently with index-create, is attached (index-attach).
CREATE INDEX {{index}} ON ONLY {{relation}} USING {{index_method}} ({{column}} {{index_ops}}) {{index_with}}
