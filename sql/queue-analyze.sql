-- Fresh planner statistics for the queue after a large enqueue pass: without them the planner keeps planning
-- claims and dequeues for the empty table it last saw (scans instead of the index) until autovacuum runs.
ANALYZE embedsync.queue
