-- Whether text search configuration $2 (EMBEDSYNC_TEXT_SEARCH_CONFIG; in schema $1, or NULL: on the search
-- path) exists in this database: migrate checks it before it changes anything. A catalog lookup, not a cast
-- to regconfig, which would raise (and PostgreSQL 15 has no to_regconfig).
SELECT EXISTS (
  SELECT 1 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
  WHERE c.cfgname = $2 AND (n.nspname = $1 OR ($1::text IS NULL AND pg_ts_config_is_visible(c.oid)))
) AS ok
