-- Records a finished build of source $1's vector index ($2 name, $3 kind, $4 lists, $5 dimensions, $6 rows
-- trained on, $7 seconds). One row per source, replaced by each build: only the index in use matters.
INSERT INTO embedsync.vector_index (source, name, kind, lists, dimensions, rows_at_build, build_seconds)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (source) DO UPDATE SET name = excluded.name, kind = excluded.kind, lists = excluded.lists,
  dimensions = excluded.dimensions, rows_at_build = excluded.rows_at_build, build_seconds = excluded.build_seconds, built_at = now()
