-- The index the cheap sweep pass reads (enqueue-changed): the ids of rows not embedded by the current model
-- ({{model_checksum}}, a literal: an index predicate cannot take a parameter; migrate recreates the index when
-- the model changes). Partial, so it holds only rows that need work: tiny in the steady state, and a write
-- that stores a current vector adds no entry to it (the new row version falls outside the predicate), so it
-- costs the write path next to nothing. {{concurrently}} is CONCURRENTLY on plain tables (writers are not
-- blocked while it builds) and empty on partitioned ones, where Postgres cannot build concurrently.
CREATE INDEX {{concurrently}} IF NOT EXISTS {{name:embedsync_stale}} ON {{table}} ({{id}})
  WHERE {{checksum}} IS DISTINCT FROM {{model_checksum}}
