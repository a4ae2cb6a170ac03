-- The last exact count of rows with a vector in column $2 of source $1 (vector-count-write), with the write
-- counters and storage signature it was taken at. One row by primary key.
SELECT rows, writes, relations FROM embedsync.vector_count WHERE source = $1 AND column_name = $2
