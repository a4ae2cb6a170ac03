-- Whether table $1's id column $2 takes its values from a sequence (identity, serial or a nextval default), so a
-- new row's id sorts after the rows inserted before it: the condition for taking inserts by the watch.
SELECT coalesce(bool_or(a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%'), false) AS sequence
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped
