-- The index the cheap sweep pass reads (enqueue-changed): rows by model checksum. B-tree deduplication keeps
-- it small while nearly every row carries the same checksum. It does not cover the embedding column, so it
-- costs an embedding write nothing beyond what a checksum change already costs. {{concurrently}} is
-- CONCURRENTLY on plain tables (writers are not blocked while it builds) and empty on partitioned ones, where
-- Postgres cannot build concurrently and creates it on each partition.
CREATE INDEX {{concurrently}} IF NOT EXISTS {{name:embedsync_checksum}} ON {{table}} ({{checksum}})
