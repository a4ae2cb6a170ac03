-- Drops index {{relation}} if it is still there (a rerun after an interruption finds it gone).
-- {{concurrently}} is CONCURRENTLY where Postgres allows it, so readers and writers are not blocked, and
-- empty on a partitioned index, whose drop takes its partitions' indexes with it.
DROP INDEX {{concurrently}} IF EXISTS {{relation}}
