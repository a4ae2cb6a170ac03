-- Chunking per table (docs/chunking.md): how migrate set the table up, recorded with its other settings so a
-- daemon serving every table chunks each one as it was migrated. 'none' (one vector per row) for the tables
-- recorded before; chunk_tokens NULL means the model's limit less its document prompt.
ALTER TABLE embedsync.sources
  ADD COLUMN chunking      text    NOT NULL DEFAULT 'none',
  ADD COLUMN chunk_tokens  integer,
  ADD COLUMN chunk_overlap integer NOT NULL DEFAULT 64;
