-- What `migrate` set each table up with, so one `embedsync run` can serve every migrated table without a
-- per-table environment, and a later `migrate` can tell an unintended change of settings from an intended one.
-- One row per source ("schema.table", the key of embedsync.state, queue and deadletter). The model is the
-- EMBEDDING_MODEL setting as migrate loaded it (a folder or hub id) with the checksum it produced, so a daemon
-- serving the table knows which encoder to load and can check it got the recorded one.
CREATE TABLE embedsync.sources (
  source               text        PRIMARY KEY,
  id_column            text        NOT NULL,
  text_columns         text[]      NOT NULL,
  document_sql         text,
  embedding_column     text        NOT NULL,
  checksum_column      text        NOT NULL,
  embedded_at_column   text        NOT NULL,
  text_hash_column     text        NOT NULL,
  model                text        NOT NULL,
  model_checksum       text        NOT NULL,
  dimensions           integer     NOT NULL,
  index_kind           text        NOT NULL,
  index_growth_factor  float8      NOT NULL,
  index_min_rows       integer     NOT NULL,
  index_build_memory   text        NOT NULL,
  -- EMBEDSYNC_BULK_ROWS: statements changing more rows go to the bulk lane (baked into the triggers).
  bulk_rows            integer     NOT NULL,
  -- EMBEDSYNC_VECTOR_TYPE, EMBEDSYNC_FULLTEXT_COLUMN, EMBEDSYNC_TEXT_SEARCH_CONFIG: a type switch and a new text
  -- search configuration are migrate's own business (a shadow migration, a tsvector rebuild), like the model.
  vector_type          text        NOT NULL,
  fulltext_column      text        NOT NULL,
  text_search_config   text        NOT NULL,
  recorded_at          timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Daemons serving every table (EMBEDSYNC_TABLE=*) learn at once that a table was migrated, re-set or removed:
-- "source:<source>" on the channel they listen on (queue wake-ups carry a row count, model changes "model:",
-- so older daemons take it as one more wake-up). Delivered at commit; their poll is the backstop.
CREATE FUNCTION embedsync.announce_source_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('embedsync', 'source:' || CASE WHEN TG_OP = 'DELETE' THEN OLD.source ELSE NEW.source END);
  RETURN NULL;
END
$fn$;

CREATE TRIGGER announce_source_change AFTER INSERT OR UPDATE OR DELETE ON embedsync.sources
  FOR EACH ROW EXECUTE FUNCTION embedsync.announce_source_change();
