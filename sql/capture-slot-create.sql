-- The replication slot of a table's logical capture ($1): the server keeps the WAL from here on until the daemons
-- have read it (capture-advance.sql), so no change is lost while no daemon runs. pgoutput: the built-in plugin.
SELECT pg_create_logical_replication_slot($1, 'pgoutput')
