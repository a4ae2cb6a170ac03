-- Whether this role may build table $1's indexes: only the table's owner (or a member of its role) may, and
-- the build is recorded in embedsync.vector_index. A daemon under least-privilege grants answers false and
-- leaves builds to `embedsync migrate` / `embedsync index rebuild` run as the owner.
SELECT pg_has_role(c.relowner, 'USAGE') AND has_table_privilege('embedsync.vector_index', 'SELECT, INSERT, UPDATE, DELETE') AS ok
FROM pg_class c WHERE c.oid = $1::regclass
