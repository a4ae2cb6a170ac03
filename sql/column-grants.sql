-- The column privileges on column $2 of table $1, for copying to the shadow column that replaces it: a
-- grant belongs to the column, not its name, and would be lost at the swap. quote_ident: ready for GRANT.
SELECT g.privilege_type AS privilege,
       CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee
FROM pg_attribute a CROSS JOIN LATERAL aclexplode(a.attacl) g LEFT JOIN pg_roles r ON r.oid = g.grantee
WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped
