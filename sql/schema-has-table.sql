-- Whether embedsync's table $1 (schema-qualified) exists: a database not migrated yet, or migrated by an
-- older version, has no state to read or clear. to_regclass returns NULL instead of raising.
SELECT to_regclass($1) IS NOT NULL AS ok
