-- A migration's shadow columns (rendered with the shadow column names), for the new model's vectors. No
-- default, nullable: a catalog-only change, however big the table, so its ACCESS EXCLUSIVE lock is brief.
-- {{vector_type}} is the target's (EMBEDSYNC_VECTOR_TYPE): switching vector <-> halfvec is such a migration.
ALTER TABLE {{table}}
  ADD COLUMN IF NOT EXISTS {{embedding}} {{vector_type}}({{dimensions}}),
  ADD COLUMN IF NOT EXISTS {{checksum}} text,
  ADD COLUMN IF NOT EXISTS {{text_hash}} uuid
