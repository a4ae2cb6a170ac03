-- Stores an exact count ($3 rows with a vector in column $2 of source $1) with the write counters ($4) and
-- storage signature ($5) read just before the count: writes during the count then widen the next band
-- instead of slipping past it.
INSERT INTO embedsync.vector_count (source, column_name, rows, writes, relations)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (source, column_name) DO UPDATE SET rows = excluded.rows, writes = excluded.writes,
  relations = excluded.relations, counted_at = now()
