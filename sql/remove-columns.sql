-- `embedsync remove --drop-columns`: the managed columns of the table, embedded_at included (a model
-- migration's shadow columns go through drop-vector-columns.sql first). Their vector index and the sweep's
-- partial index depend on them and go too, as does the tsvector's GIN index with its column. IF EXISTS: a rerun after an interruption is a no-op.
ALTER TABLE {{table}}
  DROP COLUMN IF EXISTS {{embedding}},
  DROP COLUMN IF EXISTS {{checksum}},
  DROP COLUMN IF EXISTS {{embedded_at}},
  DROP COLUMN IF EXISTS {{text_hash}},
  DROP COLUMN IF EXISTS {{fulltext}}
