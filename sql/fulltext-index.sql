-- The GIN index of the tsvector column, which the full-text side of hybrid search reads (@@). Built by
-- migrate outside any transaction: {{concurrently}} is CONCURRENTLY on plain tables (writers carry on while it
-- builds) and empty on partitioned ones, where Postgres cannot build concurrently. fastupdate stays on (the
-- default): the daemon's writes append to the pending list instead of updating the tree row by row.
CREATE INDEX {{concurrently}} IF NOT EXISTS {{name:embedsync_fulltext}} ON {{table}} USING gin ({{fulltext}})
