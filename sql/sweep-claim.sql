-- Takes pass $2 of source $1 (table $3) for one step if it is due and no other daemon holds it; the same
-- transaction ends with sweep-advance. SKIP LOCKED: a daemon that finds the row held moves on instead of
-- queueing behind the one sweeping, so however many daemons run, each step runs once.
SELECT position,
       extract(epoch FROM now() - round_started_at)::float8 AS round_seconds,
       -- Rows to spread a verification round over: the planner's estimate, summed over the leaf partitions.
       (SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8
        FROM pg_class c
        WHERE c.oid = $3::regclass AND c.relkind <> 'p'
           OR c.oid IN (SELECT relid FROM pg_partition_tree($3::regclass) WHERE isleaf)) AS estimated_rows
FROM embedsync.sweep
WHERE source = $1 AND pass = $2 AND due_at <= now()
FOR UPDATE OF sweep SKIP LOCKED
