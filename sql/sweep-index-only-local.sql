-- For the rest of the cheap sweep pass's transaction: read the source through its sweep index, never by a
-- sequential scan. The planner weighs the two by the table's statistics, and those lag the writes: right
-- after a backfill, until ANALYZE runs, it still takes most rows for not current and picks a scan of the
-- whole table, every pass, on a table with nothing to do. Off, not forbidden: a table without the index
-- (migrate not run since) is still scanned.
SET LOCAL enable_seqscan = off
