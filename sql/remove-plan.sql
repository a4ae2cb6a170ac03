-- `embedsync remove --dry-run` (and the report of a real one): what embedsync holds for source $1 (table $2,
-- quoted; to_regclass gives NULL for a table already dropped). Triggers and functions are found in the
-- catalog by schema embedsync and the generated names $3, not assumed: a table set up by an older version
-- may lack some. One row of counts and name lists.
SELECT
  ARRAY(SELECT t.tgname::text FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE t.tgrelid = to_regclass($2) AND p.pronamespace = 'embedsync'::regnamespace AND NOT t.tgisinternal
        ORDER BY t.tgname) AS triggers,
  ARRAY(SELECT DISTINCT p.proname::text FROM pg_proc p
        WHERE p.pronamespace = 'embedsync'::regnamespace AND p.proname = ANY ($3::text[]) ORDER BY 1) AS functions,
  (SELECT count(*) FROM embedsync.queue WHERE source = $1)::int AS queued,
  (SELECT count(*) FROM embedsync.deadletter WHERE source = $1)::int AS deadlettered,
  EXISTS (SELECT 1 FROM embedsync.state WHERE source = $1) AS state,
  (SELECT count(*) FROM embedsync.sweep WHERE source = $1)::int AS sweep,
  EXISTS (SELECT 1 FROM embedsync.vector_index WHERE source = $1) AS index_record,
  EXISTS (SELECT 1 FROM embedsync.sources WHERE source = $1) AS settings,
  EXISTS (SELECT 1 FROM embedsync.search_default WHERE source = $1) AS search_default
