-- Slot $1 forgets the changes up to LSN $2 (a commit the daemon has read and queued): the server may drop that WAL.
SELECT pg_replication_slot_advance($1, $2::pg_lsn)
