-- `embedsync remove`: whether table $1 (quoted) still exists, the type of its id column $2 (the generated
-- functions' signatures), and which of the partial indexes $3 (quoted, schema-qualified: the sweep's, the new rows') are there. to_regclass
-- gives NULL instead of raising, so a table the application already dropped can still have its records removed.
SELECT to_regclass($1) IS NOT NULL AS exists,
       (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
        WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped) AS id_type,
       ARRAY(SELECT to_regclass(i) IS NOT NULL FROM unnest($3::text[]) WITH ORDINALITY AS x(i, n) ORDER BY n) AS indexes
