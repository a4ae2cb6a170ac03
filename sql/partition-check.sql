-- Whether table $1 is partitioned (relkind 'p'): Postgres builds and drops no index CONCURRENTLY on one, so
-- index builds take the partition-by-partition path. No row: the table is gone.
SELECT relkind = 'p' AS p FROM pg_class WHERE oid = $1::regclass
