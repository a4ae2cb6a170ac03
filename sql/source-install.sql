-- Installs (idempotently) the triggers that record changed rows of the configured source table, and its change log.
-- Placeholders are filled with validated, quoted identifiers by src/db/sql-template.ts.
--
-- Each operation gets the capture that costs the application least (docs/sync.md, Triggers; figures in docs/benchmarks.md):
-- - INSERT into a table whose ids come from a sequence: no trigger at all. A new row has no model checksum, so it
--   lands in the new-rows index (source-new-rows-index.sql) in the inserting transaction, and every daemon looks
--   at that index's newest entries every EMBEDSYNC_WATCH_INTERVAL_MS (watch-new-rows.sql). Other ids (uuid, text:
--   a new row can sort anywhere) keep the statement-level trigger below (source-insert-trigger.sql).
-- - UPDATE: row-level, restricted to the document's columns (UPDATE OF), so an update of other columns (including
--   the daemon's own embedding writes) fires nothing at all: no transition tables, no function call. The function
--   compares the document's columns itself, so an update that names them and leaves them alone logs nothing. Not
--   in the trigger's WHEN: PostgreSQL rebuilds a WHEN's expression from its stored text in every statement that
--   fires the trigger, which cost a single-row text UPDATE four fifths as much again as the whole trigger costs it
--   now (instruction counts in docs/benchmarks.md); the function's comparison is compiled once per transaction.
--   Where the database has the extension embedsync_capture (extension/), the trigger calls its compiled function,
--   which does the same without PL/pgSQL's call and executor (the UPDATE trigger below).
-- - The INSERT and UPDATE triggers record the changed ids in the table's change log, embedsync.<stem>_changes: a
--   heap with no index and no constraint, so a change costs one heap insert in the application's transaction
--   (durable with it) and can never fail the application's statement (a NULL or repeated id is dropped later).
--   Every EMBEDSYNC_WATCH_INTERVAL_MS one daemon moves the log into the queue (changes-drain.sql), where the
--   statement's size picks the lane. An upsert into the queue here cost as much again as the row itself.
-- - DELETE, TRUNCATE: statement-level, every one concerns the document; they clear the queue directly.
-- The functions are SECURITY DEFINER so writers of the source table need no rights on schema embedsync. The two
-- hot ones (ins, upd) name one schema-qualified table and call nothing, so no search_path can redirect them, and
-- they go without the SET search_path clause, whose save and restore is paid on every call. No trigger sends a
-- NOTIFY: a notification serializes the application's commits on the notify queue's lock (10 points of single-row
-- TPS); the daemons' watch finds due work within EMBEDSYNC_WATCH_INTERVAL_MS instead.

-- `at`: the statement's start, the change's age in the queue; with the writing transaction (xmin) it tells the
-- drain which rows one statement changed. Autovacuum after every 1,000 dead rows: the log is emptied constantly.
CREATE TABLE IF NOT EXISTS embedsync.{{name:changes}} (id {{id_type}}, at timestamptz DEFAULT statement_timestamp())
  WITH (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000);

{{document_function}}

CREATE OR REPLACE FUNCTION embedsync.{{name:ins}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
  INSERT INTO embedsync.{{name:changes}} (id) SELECT r.{{id}} FROM new_rows r;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION embedsync.{{name:upd}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
  -- Only an update of the document's columns (or of the id) is a change.
  IF {{update_changed:new,old}} THEN
    INSERT INTO embedsync.{{name:changes}} (id) VALUES (NEW.{{id}});
  END IF;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION embedsync.{{name:del}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  DELETE FROM embedsync.queue q USING old_rows o WHERE q.source = {{source_key}} AND q.id = o.{{id}}::text;
  DELETE FROM embedsync.deadletter d USING old_rows o WHERE d.source = {{source_key}} AND d.id = o.{{id}}::text;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION embedsync.{{name:trunc}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  -- Only this table's work: other sources share the queue.
  DELETE FROM embedsync.queue WHERE source = {{source_key}};
  DELETE FROM embedsync.deadletter WHERE source = {{source_key}};
  DELETE FROM embedsync.{{name:changes}};
  RETURN NULL;
END
$fn$;

-- {{update_function}}: the function above, or the same work compiled into the server where the database has the
-- extension embedsync_capture (capture-compiled.sql): without PL/pgSQL's call and the executor it starts for the
-- one-row INSERT, what a text UPDATE pays for its capture falls by more than half (docs/benchmarks.md).
CREATE OR REPLACE TRIGGER {{name:upd}} AFTER UPDATE OF {{update_columns}} ON {{table}}
  FOR EACH ROW EXECUTE FUNCTION {{update_function}};
CREATE OR REPLACE TRIGGER {{name:del}} AFTER DELETE ON {{table}}
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:del}}();
CREATE OR REPLACE TRIGGER {{name:trunc}} AFTER TRUNCATE ON {{table}}
  FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:trunc}}();
