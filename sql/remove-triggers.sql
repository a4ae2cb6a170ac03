-- `embedsync remove`: takes the triggers off the source table and drops the functions generated for it
-- (source-install.sql's trigger functions and document function, similar-to.sql's, search.sql's and
-- hybrid-search.sql's per-table functions). IF EXISTS throughout: a rerun after an interruption, or a table set up by an older
-- version without some of them, finds nothing to drop. Runs in remove's short-lock transaction with the
-- record deletion (remove-records.sql), so the table is never left with triggers feeding a queue nobody owns.
-- Functions are dropped by name alone: embedsync generates one of each name.
DROP TRIGGER IF EXISTS {{name:ins}} ON {{table}};
DROP TRIGGER IF EXISTS {{name:upd}} ON {{table}};
DROP TRIGGER IF EXISTS {{name:mov}} ON {{table}};
DROP TRIGGER IF EXISTS {{name:del}} ON {{table}};
DROP TRIGGER IF EXISTS {{name:trunc}} ON {{table}};
DROP FUNCTION IF EXISTS embedsync.{{name:ins}}, embedsync.{{name:upd}}, embedsync.{{name:mov}}, embedsync.{{name:del}}, embedsync.{{name:trunc}};
DROP FUNCTION IF EXISTS {{function:similar_to}}, {{function:search}}, {{function:hybrid_search}};
DROP FUNCTION IF EXISTS {{document_function_name}};
-- The change log goes with the triggers that wrote it (entries not yet in the queue are moot once the table is off).
DROP TABLE IF EXISTS embedsync.{{name:changes}};
