-- Drops one set of a model's vector columns (rendered with the main or the shadow names): the old ones at
-- the swap, the shadow ones on abort, both for an in-place change. IF EXISTS makes a rerun after a crash a
-- no-op. embedded_at is shared by both sets and stays.
ALTER TABLE {{table}}
  DROP COLUMN IF EXISTS {{embedding}},
  DROP COLUMN IF EXISTS {{checksum}},
  DROP COLUMN IF EXISTS {{text_hash}}
