-- Each privilege the daemon needs, one per row with whether this role holds it: $1/$2 tables and
-- privileges, $3/$4 columns and privileges on source table $5. One privilege per test: has_table_privilege
-- with a list answers true when *any* of them is held.
SELECT 'USAGE on schema embedsync' AS what, has_schema_privilege('embedsync', 'USAGE') AS ok
UNION ALL SELECT p || ' on ' || o, has_table_privilege(o, p) FROM unnest($1::text[], $2::text[]) AS x(o, p)
UNION ALL SELECT p || ' (' || c || ') on ' || $5, has_column_privilege($5, c, p) FROM unnest($3::text[], $4::text[]) AS y(c, p)
