-- pgvector's version in this database and the one the server offers: doctor tells "not installed here"
-- (migrate creates it) from "not on the server" (install the package). Scalar subqueries: one row always.
SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS installed,
       (SELECT default_version FROM pg_available_extensions WHERE name = 'vector') AS available
