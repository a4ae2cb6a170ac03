-- The database this connection is in: a replication slot's name includes it (slots are per server).
SELECT current_database() AS db
