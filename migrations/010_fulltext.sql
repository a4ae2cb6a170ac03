-- Hybrid search's full-text side, per source: which tsvector column holds the document and the text search
-- configuration it was built with. migrate compares the configured one (EMBEDSYNC_TEXT_SEARCH_CONFIG) with
-- this record: a change rebuilds every row's tsvector, so queries (parsed with the new configuration) and
-- the stored vectors of words never disagree. Written by migrate only, once the column is filled.
CREATE TABLE embedsync.fulltext (
  source      text        PRIMARY KEY,
  column_name text        NOT NULL,
  config      text        NOT NULL,
  filled_at   timestamptz NOT NULL DEFAULT now()
);
