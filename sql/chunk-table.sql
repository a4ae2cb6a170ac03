-- Installs (idempotently) the chunk table of a chunked source (EMBEDSYNC_CHUNKING=tokens) and the triggers that
-- take a row's chunks with it. One row per chunk: `chunk` numbers a document's chunks from 0, `chunk_text` is
-- the passage (a substring of the document), `embedding` its vector and `model_checksum` the model that made
-- it. The key leads with the row's id, so replacing a row's chunks and the DELETE trigger's join are index
-- lookups; the checksum is part of the key because a model change writes the new model's chunks beside the old
-- ones (search reads the recorded model's), and `embedding` has no fixed dimension for the same reason.
-- The vector index is per model, partial on its checksum, over a cast to its dimension (chunk-index.sql).
-- DELETE and TRUNCATE of the source remove chunks in the same transaction, before any daemon looks: a
-- statement-level trigger with the deleted ids, and a TRUNCATE of the chunk table. SECURITY DEFINER with a
-- fixed search_path like the queue's triggers, so the application's role needs no rights on schema embedsync.
CREATE TABLE IF NOT EXISTS {{chunk_table}} (
  id             {{id_type}} NOT NULL,
  chunk          integer     NOT NULL,
  chunk_text     text        NOT NULL,
  embedding      vector      NOT NULL,
  model_checksum text        NOT NULL,
  PRIMARY KEY (id, model_checksum, chunk)
);

CREATE OR REPLACE FUNCTION embedsync.{{name:chunk_del}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  DELETE FROM {{chunk_table}} c USING old_rows o WHERE c.id = o.{{id}};
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION embedsync.{{name:chunk_trunc}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  TRUNCATE {{chunk_table}};
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER {{name:chunk_del}} AFTER DELETE ON {{table}}
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:chunk_del}}();
CREATE OR REPLACE TRIGGER {{name:chunk_trunc}} AFTER TRUNCATE ON {{table}}
  FOR EACH STATEMENT EXECUTE FUNCTION embedsync.{{name:chunk_trunc}}();
