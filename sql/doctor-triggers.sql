-- Enabled triggers on table $1 that call functions of schema embedsync (the four source-install.sql
-- creates). By function schema, not trigger name: the names follow the table's stem. to_regclass: a
-- missing table counts none instead of failing. `update_when`: a row-level UPDATE trigger with a WHEN, as earlier
-- versions installed it (its expression is rebuilt in every statement that fires it; migrate replaces it).
-- `update_compiled`: the row-level UPDATE trigger calls the compiled function (capture-compiled.sql).
SELECT count(*)::int AS n, coalesce(bool_or(t.tgqual IS NOT NULL AND t.tgtype & 17 = 17), false) AS update_when, -- ROW | UPDATE
       coalesce(bool_or(p.proname = 'capture_update' AND t.tgtype & 17 = 17), false) AS update_compiled
FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace ns ON ns.oid = p.pronamespace
WHERE t.tgrelid = to_regclass($1) AND ns.nspname = 'embedsync' AND NOT t.tgisinternal AND t.tgenabled <> 'D'
