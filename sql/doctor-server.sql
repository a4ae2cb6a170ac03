-- Who and where doctor connected to, for its first line: version, role and database.
SELECT current_setting('server_version') AS v, current_user AS u, current_database() AS db
