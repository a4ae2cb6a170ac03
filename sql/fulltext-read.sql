-- The full-text record of source $1 (migrations/010_fulltext.sql): its tsvector column and configuration, to
-- tell whether the configured ones differ and every row's tsvector must be rebuilt.
SELECT column_name, config FROM embedsync.fulltext WHERE source = $1
