-- The columns embedsync manages on the source table. Run only when one is missing: ALTER TABLE takes an
-- ACCESS EXCLUSIVE lock even when every column already exists, and readers should not queue behind it.
-- {{vector_type}} is vector or halfvec (EMBEDSYNC_VECTOR_TYPE). The tsvector of the document ({{fulltext}},
-- hybrid search's full-text side) is written by the same statement as the vector (write-embeddings) and filled
-- for existing rows by migrate (fulltext-fill): nullable and without default, so adding it rewrites nothing.
ALTER TABLE {{table}}
  ADD COLUMN IF NOT EXISTS {{embedding}} {{vector_type}}({{dimensions}}),
  ADD COLUMN IF NOT EXISTS {{checksum}} text,
  ADD COLUMN IF NOT EXISTS {{embedded_at}} timestamptz,
  ADD COLUMN IF NOT EXISTS {{text_hash}} uuid,
  ADD COLUMN IF NOT EXISTS {{fulltext}} tsvector
