-- Queues, for source $1, the rows of decoded inserts and updates $2 (ids) that need encoding, each in lane $3 (0 live,
-- 1 bulk: transactions that changed more than EMBEDSYNC_BULK_ROWS rows), for current model $4. The publication
-- sends every update of the table, so the unsynced rule (sql-template.ts) keeps those that changed the document
-- and drops the rest: an update of another column, the daemon's own write of a vector, a row gone since. A change
-- coalesces with a pending entry as the trigger's did: a new version (so a batch in flight keeps the row queued),
-- attempts reset, a live change moves a bulk entry to live, a leased entry keeps its lease.
WITH c AS (
  SELECT * FROM unnest($2::text[], $3::smallint[]) AS c(id, lane)
), changed AS (
  SELECT c.id, c.lane
  FROM c JOIN {{table}} t ON t.{{id}} = c.id::{{id_type}}
  CROSS JOIN LATERAL (SELECT {{document:t}} AS document) d
  WHERE t.{{id}} = ANY ($2::text[]::{{id_type}}[]) AND {{unsynced:t,d.document,$4}}
)
INSERT INTO embedsync.queue AS q (source, id, version, lane)
SELECT $1, id, embedsync.next_queue_version(), lane FROM changed
ON CONFLICT (source, id) DO UPDATE
  SET version = excluded.version, changed_at = now(), attempts = 0, lane = least(q.lane, excluded.lane),
      next_attempt_at = CASE WHEN q.lease_owner IS NULL THEN least(q.next_attempt_at, now()) ELSE q.next_attempt_at END
RETURNING q.lane
