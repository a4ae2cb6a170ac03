-- One daemon moves a table's change log at a time (changes-drain.sql): a session advisory lock on source $1,
-- held across the parts of one drain (so a large statement's parts are classed together), taken without
-- waiting (another daemon moving the log now will have the entries in the queue in a moment).
SELECT pg_try_advisory_lock(1701667444, hashtext($1)) AS ok
