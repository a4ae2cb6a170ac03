-- The watch's look for new rows of source $1 (every EMBEDSYNC_WATCH_INTERVAL_MS, each daemon): the $3 newest
-- entries of the new-rows index (source-new-rows-index.sql) below id $2 (NULL: from the newest), and the ones
-- neither queued nor dead-lettered enqueued. Ids come from a sequence, so new rows are the newest entries: a
-- look reads $3 index entries whatever the backlog below them (a model change's millions, all queued). More
-- than $4 new rows in one look is a bulk load: they go to the bulk lane ($4 < 0: bulk whatever the count, for
-- the pages below the first). A NULL id (an id that lost its constraint after migrate) is passed over.
-- ON CONFLICT: another daemon's look, or the move of the triggers' change log (changes-drain.sql), may enqueue a
-- row first.
-- `due_live`, `due_bulk`: whether each lane has due work, for the claim loops' wake-up (no trigger notifies).
-- `ready` guards the look: unless the new-rows index $5 (schema-qualified) is valid and on checksum column $6 (a
-- model migration's swap takes it away with the old column until it is built again), the scan is not run at all
-- (a one-time filter), so a look can never become a read of the whole table.
WITH ready AS (
  SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = to_regclass($5) AND i.indisvalid
                 AND pg_get_expr(i.indpred, i.indrelid) = '(' || quote_ident($6) || ' IS NULL)') AS ok
), newest AS (
  SELECT t.{{id}} AS id FROM {{table}} t
  WHERE (SELECT ok FROM ready) AND t.{{checksum}} IS NULL AND t.{{id}} IS NOT NULL AND ($2::text IS NULL OR t.{{id}} < $2::text::{{id_type}})
  ORDER BY t.{{id}} DESC
  LIMIT $3
), found AS (
  SELECT n.id FROM newest n
  WHERE NOT EXISTS (SELECT 1 FROM embedsync.queue q WHERE q.source = $1 AND q.id = n.id::text)
    AND NOT EXISTS (SELECT 1 FROM embedsync.deadletter x WHERE x.source = $1 AND x.id = n.id::text)
), enqueued AS (
  INSERT INTO embedsync.queue (source, id, lane)
  SELECT $1, id::text, CASE WHEN $4::int < 0 OR (SELECT count(*) FROM found) > $4::int THEN 1 ELSE 0 END FROM found
  -- $7: a look whose every entry is new is a bulk load: it enqueues nothing here, and the caller enqueues the
  -- whole load in one transaction, so the claim loops never see part of it.
  WHERE NOT ($7::boolean AND (SELECT count(*) FROM found) = $3)
  ON CONFLICT (source, id) DO NOTHING
  RETURNING lane
)
SELECT (SELECT ok FROM ready) AS ready, (SELECT count(*) FROM newest)::int AS scanned, (SELECT count(*) FROM found)::int AS found,
       (SELECT count(*) FROM enqueued)::int AS enqueued,
       (SELECT min(lane) FROM enqueued)::int AS lane,
       (SELECT n.id::text FROM newest n ORDER BY n.id LIMIT 1) AS last_id,
       EXISTS (SELECT 1 FROM embedsync.queue q WHERE q.source = $1 AND q.lane = 0 AND q.next_attempt_at <= now()) AS due_live,
       EXISTS (SELECT 1 FROM embedsync.queue q WHERE q.source = $1 AND q.lane = 1 AND q.next_attempt_at <= now()) AS due_bulk
