-- When a table's chunking is switched on, rows whose vector predates it have no chunks (and the verification
-- sweep finds any row whose vector lacks the chunks of its model): forgetting their text
-- hash makes them stale by the one staleness rule (sql-template.ts staleRule), so the sweep, the backfill and the daemon's read
-- all re-encode them (through the chunking encoder). The UPDATE touches no document column: no trigger fires.
-- They are queued in the bulk lane at once, so the switch does not wait for the next sweep.
WITH forgotten AS (
  UPDATE {{table}} t SET {{text_hash}} = NULL
  WHERE t.{{text_hash}} IS NOT NULL
    AND t.{{embedding}} IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM {{chunk_table}} c WHERE c.id = t.{{id}} AND c.model_checksum = t.{{checksum}})
  RETURNING t.{{id}} AS id
)
INSERT INTO embedsync.queue AS q (source, id, version, lane)
SELECT {{source_key}}, f.id::text, nextval('embedsync.queue_version'), 1 FROM forgotten f
ON CONFLICT (source, id) DO UPDATE SET version = excluded.version
