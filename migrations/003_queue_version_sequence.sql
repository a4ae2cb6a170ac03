-- Queue versions come from one sequence, so no two queue entries ever carry the same version. With a
-- per-entry counter starting at 1, a row deleted and re-inserted under the same id while a batch held it
-- got version 1 again, and the in-flight write (which dequeues "the version it claimed") removed the new
-- entry: the re-inserted row stayed unembedded until the sweep.
CREATE SEQUENCE embedsync.queue_version AS bigint;
SELECT setval('embedsync.queue_version', coalesce((SELECT max(version) FROM embedsync.queue), 0) + 1, false);

-- The column default goes through a SECURITY DEFINER function so that a daemon role (which inserts queue
-- rows in its sweep and in `deadletter retry`) needs no rights on the sequence (docs/security.md).
CREATE FUNCTION embedsync.next_queue_version() RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT nextval('embedsync.queue_version') $fn$;

ALTER TABLE embedsync.queue ALTER COLUMN version SET DEFAULT embedsync.next_queue_version();
