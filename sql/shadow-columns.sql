-- A migration's shadow columns (rendered with the shadow column names), for the new model's vectors. No
-- default, nullable: a catalog-only change, however big the table, so its ACCESS EXCLUSIVE lock is brief.
ALTER TABLE {{table}}
  ADD COLUMN IF NOT EXISTS {{embedding}} vector({{dimensions}}),
  ADD COLUMN IF NOT EXISTS {{checksum}} text,
  ADD COLUMN IF NOT EXISTS {{text_hash}} uuid
