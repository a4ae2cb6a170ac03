-- Whether embedsync's schema is installed (its queue table exists), asked without failing when it is not.
SELECT to_regclass('embedsync.queue') IS NOT NULL AS ok
