-- The next changes of slot $1 (at most about $2: whole transactions), decoded by pgoutput for publication $3,
-- one protocol message a row. A peek: the slot keeps them until capture-advance.sql moves it past them, after
-- the ids are in the queue, so a daemon that stops in between leaves them for the next look.
SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes($1, NULL, $2, 'proto_version', '1', 'publication_names', $3)
