-- Installs (idempotently) the triggers that enqueue changed rows of the configured source table.
-- Placeholders are filled with validated, quoted identifiers by src/db/sql-template.ts.
--
-- Triggers are statement-level with transition tables: one queue upsert and one pg_notify per statement
-- instead of per row, which keeps bulk writes near the queue-only cost. Postgres forbids column lists on
-- UPDATE triggers with transition tables, so the UPDATE trigger compares the document columns of the old and
-- new rows itself: writes that leave the text alone (including the daemon's own embedding writes) enqueue
-- nothing. The functions are SECURITY DEFINER with a fixed search_path so writers of the source table need
-- no rights on schema embedsync.

{{document_function}}

CREATE OR REPLACE FUNCTION embedsync.{{name:ins}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE n bigint;
BEGIN
  -- A change coalesces with a pending one (new version); a row held under lease keeps its lease, and the
  -- daemon holding it sees the new version and leaves the row queued. Versions come from one sequence, never
  -- reused, so an entry deleted and re-created under the same id can't be mistaken for the one claimed.
  -- DISTINCT and IS NOT NULL: a statement that touches one id twice, or a NULL id (possible only if the id
  -- lost its constraint after migrate), must not make the application's own write fail in this trigger.
  INSERT INTO embedsync.queue AS q (source, id, version)
  SELECT {{source_key}}, c.id, nextval('embedsync.queue_version')
  FROM (SELECT DISTINCT r.{{id}}::text AS id FROM new_rows r WHERE r.{{id}} IS NOT NULL) c
  ON CONFLICT (source, id) DO UPDATE
    SET version = excluded.version, changed_at = now(), attempts = 0,
        next_attempt_at = CASE WHEN q.lease_owner IS NULL THEN now() ELSE q.next_attempt_at END;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN PERFORM pg_notify('embedsync', n::text); END IF;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION embedsync.{{name:upd}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE n bigint;
BEGIN
  -- No EXCEPTION block here (a subtransaction per application UPDATE would overflow the subxid cache of
  -- long transactions): raw column comparisons cannot raise; an EMBEDSYNC_DOCUMENT_SQL that raises on some
  -- value fails the UPDATE, as it would fail the application's own use of that expression.
  INSERT INTO embedsync.queue AS q (source, id, version)
  SELECT {{source_key}}, c.id, nextval('embedsync.queue_version')
  FROM (SELECT DISTINCT nr.{{id}}::text AS id
        FROM new_rows nr LEFT JOIN old_rows o ON o.{{id}} = nr.{{id}}
        WHERE nr.{{id}} IS NOT NULL AND (o.{{id}} IS NULL OR {{document_changed:nr,o}})) c
  ON CONFLICT (source, id) DO UPDATE
    SET version = excluded.version, changed_at = now(), attempts = 0,
        next_attempt_at = CASE WHEN q.lease_owner IS NULL THEN now() ELSE q.next_attempt_at END;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN PERFORM pg_notify('embedsync', n::text); END IF;
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

CREATE OR REPLACE TRIGGER {{name:ins}} AFTER INSERT ON {{table}}
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:ins}}();
CREATE OR REPLACE TRIGGER {{name:upd}} AFTER UPDATE ON {{table}}
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:upd}}();
CREATE OR REPLACE TRIGGER {{name:del}} AFTER DELETE ON {{table}}
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:del}}();
CREATE OR REPLACE TRIGGER {{name:trunc}} AFTER TRUNCATE ON {{table}}
  FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:trunc}}();
