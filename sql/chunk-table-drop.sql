-- Takes a source's chunks away: when its chunking is set back to none (migrate --update-settings) and by
-- `embedsync remove`. The chunk search function goes too; the row search functions are reinstalled by migrate.
DROP TRIGGER IF EXISTS {{name:chunk_del}} ON {{table}};
DROP TRIGGER IF EXISTS {{name:chunk_trunc}} ON {{table}};
DROP FUNCTION IF EXISTS embedsync.{{name:chunk_del}}();
DROP FUNCTION IF EXISTS embedsync.{{name:chunk_trunc}}();
DROP FUNCTION IF EXISTS {{function:search_chunks}}(vector, integer, float8);
DROP TABLE IF EXISTS {{chunk_table}};
