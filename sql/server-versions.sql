-- The server's version (as text to show, and as a number to compare) and pgvector's, installed in this
-- database and offered by the server: migrate and doctor check them against what the schema needs before
-- anything changes (src/db/server-versions.ts). Scalar subqueries: one row always.
SELECT current_setting('server_version') AS server,
       current_setting('server_version_num')::int AS server_num,
       (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector_installed,
       (SELECT default_version FROM pg_available_extensions WHERE name = 'vector') AS pgvector_available
