-- The sweep passes of source $1 (table $2) for status: when the table was last fully verified, where the
-- current verification round is, when the cheap pass last ran. Reads one row per pass and the catalog only.
SELECT pass, last_finished_at, last_round_seconds, last_found, round_rows, round_started_at, due_at,
       (SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8
        FROM pg_class c
        WHERE c.oid = $2::regclass AND c.relkind <> 'p'
           OR c.oid IN (SELECT relid FROM pg_partition_tree($2::regclass) WHERE isleaf)) AS estimated_rows
FROM embedsync.sweep
WHERE source = $1
