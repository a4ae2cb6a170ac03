-- For the rest of a sweep step's transaction: read the source through an index (the cheap pass its sweep
-- index, a verification chunk its primary key), never by a sequential scan. The planner weighs the two by the
-- table's statistics, and those lag the writes: right after a backfill, until ANALYZE runs, it still takes most
-- rows for not current and picks a scan of the whole table, every pass, on a table with nothing to do; and on a
-- small table it scans and sorts the whole of it for one verification chunk. Off, not forbidden: a table
-- without the index (migrate not run since) is still scanned.
SET LOCAL enable_seqscan = off
