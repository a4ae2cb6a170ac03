-- Moves up to $2 entries of source $1's change log (embedsync.<stem>_changes, written by the INSERT and UPDATE
-- triggers of source-install.sql) into the queue, in one transaction: an entry leaves the log only with its
-- queue row. One daemon at a time (changes-lock.sql). The log has no index, so the entries are taken by their
-- ctids (a TID scan), in the order they lie in the heap.
-- The lane: a statement (same writing transaction, same statement start) that changed more than $3 rows among
-- the entries taken goes to bulk, the rest to live; a row that several statements changed takes the most urgent.
-- $4: the statements found bulk by the previous part of this drain (`bulk`, returned), so the tail of a statement
-- larger than $2 is bulk too, however few of its rows fall into the last part.
-- NULL ids (an id column that lost its constraint) and repeats are dropped here, never in the application's
-- statement. A change coalesces with a pending entry (new version); a row held under lease keeps its lease, and
-- the daemon holding it sees the new version and leaves the row queued. A due row keeps its due time.
WITH taken AS (
  DELETE FROM embedsync.{{name:changes}} c
  WHERE c.ctid = ANY (ARRAY(SELECT x.ctid FROM embedsync.{{name:changes}} x LIMIT $2))
  RETURNING c.id, c.at, c.xmin::text AS tx
), sized AS (
  SELECT id, at, tx || '/' || coalesce(at::text, '') AS stmt, count(*) OVER (PARTITION BY tx, at) AS n
  FROM taken WHERE id IS NOT NULL
), changed AS (
  SELECT id::text AS id, min(at) AS at, min(CASE WHEN n > $3::int OR stmt = ANY ($4::text[]) THEN 1 ELSE 0 END) AS lane
  FROM sized GROUP BY id
), enqueued AS (
  -- version: the column's default (embedsync.next_queue_version(), so the daemon's role needs no right on the
  -- sequence), which excluded.version carries into a coalesced entry.
  INSERT INTO embedsync.queue AS q (source, id, lane, changed_at)
  SELECT $1, id, lane, coalesce(at, now()) FROM changed
  ON CONFLICT (source, id) DO UPDATE
    SET version = excluded.version, changed_at = excluded.changed_at, attempts = 0, lane = least(q.lane, excluded.lane),
        next_attempt_at = CASE WHEN q.lease_owner IS NULL THEN least(q.next_attempt_at, now()) ELSE q.next_attempt_at END
  RETURNING lane
)
SELECT (SELECT count(*) FROM taken)::int AS taken, count(*)::int AS enqueued,
       min(lane)::int AS lane, ARRAY(SELECT DISTINCT stmt FROM sized WHERE n > $3::int) AS bulk
FROM enqueued
