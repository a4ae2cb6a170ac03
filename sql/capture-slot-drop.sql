-- Takes a table's logical capture slot $1 away, so the server stops keeping WAL for it. A rerun, or a table that
-- never had one, finds nothing to drop.
SELECT pg_drop_replication_slot(s.slot_name) FROM pg_replication_slots s WHERE s.slot_name = $1
