-- A table's logical capture as the catalog has it: the server's wal_level, whether replication slot $1 exists,
-- how many bytes of WAL the server keeps for it (what the daemons have not read yet), whether publication $2
-- exists, and whether this role may use replication slots (REPLICATION or superuser).
SELECT current_setting('wal_level') AS wal_level,
       EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.slot_name = $1) AS slot,
       (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint FROM pg_replication_slots s WHERE s.slot_name = $1) AS lag_bytes,
       EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = $2) AS publication,
       (SELECT r.rolreplication OR r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) AS may_replicate
