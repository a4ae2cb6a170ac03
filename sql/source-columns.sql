-- The columns embedsync manages on the source table. Run only when one is missing: ALTER TABLE takes an
-- ACCESS EXCLUSIVE lock even when every column already exists, and readers should not queue behind it.
ALTER TABLE {{table}}
  ADD COLUMN IF NOT EXISTS {{embedding}} vector({{dimensions}}),
  ADD COLUMN IF NOT EXISTS {{checksum}} text,
  ADD COLUMN IF NOT EXISTS {{embedded_at}} timestamptz,
  ADD COLUMN IF NOT EXISTS {{text_hash}} uuid
