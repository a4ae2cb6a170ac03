-- Installs (idempotently) the triggers that enqueue changed rows of the configured source table.
-- Placeholders are filled with validated, quoted identifiers by src/db/sql-template.ts.
--
-- Each operation gets the capture that costs the application least (docs/sync.md, Triggers; figures in docs/benchmarks.md):
-- - INSERT into a table whose ids come from a sequence: no trigger at all. A new row has no model checksum, so it
--   lands in the new-rows index (source-new-rows-index.sql) in the inserting transaction, and every daemon looks
--   at that index's newest entries every EMBEDSYNC_WATCH_INTERVAL_MS (watch-new-rows.sql). Other ids (uuid, text:
--   a new row can sort anywhere) keep the statement-level trigger below (source-insert-trigger.sql): one queue
--   upsert per statement, which keeps bulk inserts near the queue-only cost and sees the statement's size for the lane.
-- - UPDATE: row-level, restricted to the document's columns (UPDATE OF, plus a WHEN that compares them), so an
--   update that leaves the text alone (including the daemon's own embedding writes) fires nothing at all: no
--   transition tables, no function call. A statement's rows are counted as they fire; past the bulk threshold
--   (EMBEDSYNC_BULK_ROWS) the rest go to the bulk lane.
-- - DELETE, TRUNCATE: statement-level, every one concerns the document.
-- Rows of statements up to EMBEDSYNC_BULK_ROWS rows go to the live lane (claimed first), larger ones to bulk; a live
-- change of a row waiting in bulk moves it to live. The functions are SECURITY DEFINER with a fixed search_path
-- so writers of the source table need no rights on schema embedsync. No trigger sends a NOTIFY: a notification
-- serializes the application's commits on the notify queue's lock (10 points of single-row TPS); the daemons'
-- watch finds due work within EMBEDSYNC_WATCH_INTERVAL_MS instead.

{{document_function}}

CREATE OR REPLACE FUNCTION embedsync.{{name:ins}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  -- A change coalesces with a pending one (new version); a row held under lease keeps its lease, and the
  -- daemon holding it sees the new version and leaves the row queued. Versions come from one sequence, never
  -- reused, so an entry deleted and re-created under the same id can't be mistaken for the one claimed.
  -- DISTINCT and IS NOT NULL: a statement that touches one id twice, or a NULL id (possible only if the id
  -- lost its constraint after migrate), must not make the application's own write fail in this trigger.
  -- A due row keeps its due time (it keeps its place, and the update can stay HOT).
  INSERT INTO embedsync.queue AS q (source, id, version, lane)
  -- The statement's size picks the lane: one more pass over the transition table, computed once (an InitPlan).
  SELECT {{source_key}}, c.id, nextval('embedsync.queue_version'), (SELECT CASE WHEN count(*) > {{bulk_rows}} THEN 1 ELSE 0 END FROM new_rows)
  FROM (SELECT DISTINCT r.{{id}}::text AS id FROM new_rows r WHERE r.{{id}} IS NOT NULL) c
  ON CONFLICT (source, id) DO UPDATE
    SET version = excluded.version, changed_at = now(), attempts = 0, lane = least(q.lane, excluded.lane),
        next_attempt_at = CASE WHEN q.lease_owner IS NULL THEN least(q.next_attempt_at, now()) ELSE q.next_attempt_at END;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION embedsync.{{name:upd}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  -- The statement's rows so far, in two transaction-local settings: a new statement starts at 1.
  stmt text := statement_timestamp()::text;
  n int := 1;
BEGIN
  IF current_setting({{setting:stmt}}, true) = stmt THEN
    n := current_setting({{setting:rows}})::int + 1;
  ELSE
    PERFORM set_config({{setting:stmt}}, stmt, true);
  END IF;
  PERFORM set_config({{setting:rows}}, n::text, true);
  -- The WHEN clause let only rows whose document columns changed (or whose id did) through. A NULL id (possible
  -- only if the id lost its constraint after migrate) must not make the application's own write fail here.
  IF NEW.{{id}} IS NULL THEN RETURN NULL; END IF;
  INSERT INTO embedsync.queue AS q (source, id, version, lane)
  VALUES ({{source_key}}, NEW.{{id}}::text, nextval('embedsync.queue_version'), CASE WHEN n > {{bulk_rows}} THEN 1 ELSE 0 END)
  ON CONFLICT (source, id) DO UPDATE
    SET version = excluded.version, changed_at = now(), attempts = 0, lane = least(q.lane, excluded.lane),
        next_attempt_at = CASE WHEN q.lease_owner IS NULL THEN least(q.next_attempt_at, now()) ELSE q.next_attempt_at END;
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
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER {{name:upd}} AFTER UPDATE OF {{update_columns}} ON {{table}}
  FOR EACH ROW WHEN ({{update_changed:old,new}}) EXECUTE FUNCTION embedsync.{{name:upd}}();
CREATE OR REPLACE TRIGGER {{name:del}} AFTER DELETE ON {{table}}
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:del}}();
CREATE OR REPLACE TRIGGER {{name:trunc}} AFTER TRUNCATE ON {{table}}
  FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:trunc}}();
