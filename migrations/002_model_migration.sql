-- Model/dimension migrations and the vector index lifecycle.
--
-- A dimension change runs as a resumable sequence of steps (`embedsync migrate`): the target model and the
-- last step finished live on the state row, so a crash or Ctrl-C at any point resumes where it stopped, and
-- the daemon reads from here which columns to write (the shadow columns while a migration is under way).
ALTER TABLE embedsync.state
  ADD COLUMN target_model       text,
  ADD COLUMN target_checksum    text,
  ADD COLUMN target_dimensions  integer,
  -- NULL when no migration runs; else the last step completed (see src/migration/steps.ts).
  ADD COLUMN migration_step     text,
  ADD COLUMN migration_started  timestamptz;

-- The vector index of each source: what was built, when, and on how many rows, so `embedsync index status`
-- can tell when it is due for a rebuild (row count drifted, kind changed, dimension swapped).
CREATE TABLE embedsync.vector_index (
  source         text        PRIMARY KEY,
  name           text        NOT NULL,
  kind           text        NOT NULL,
  lists          integer,
  dimensions     integer     NOT NULL,
  rows_at_build  bigint      NOT NULL,
  build_seconds  float8      NOT NULL,
  built_at       timestamptz NOT NULL DEFAULT now()
);
