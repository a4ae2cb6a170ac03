-- Writes a batch and dequeues it in one statement (so one round trip and one implicit transaction).
--   $1 the source (queue and dead letters are keyed by source and id), $2 ids, $3 text hashes (md5 of the
--   document that was encoded), $4 vectors as vector[] sent in pgvector's binary format (a NULL element for a
--   blank document), $5 model checksum, $6 ids finished without a write (text unchanged, or the row is gone),
--   $7/$8 every claimed id with the queue version that was claimed.
-- A row is written only while its document still hashes to what was encoded: under READ COMMITTED a
-- concurrent change makes Postgres re-check the WHERE on the newest row version, so a vector never lands on
-- text it was not made from. A queue row is deleted only at the version claimed, so a change that arrived
-- meanwhile (a look moving the change log bumps version) stays queued and is encoded again.
-- embedsync.writer_allowed raises unless $5 is the model these columns take (migrations/005_model_guard.sql):
-- a daemon on a model that migrate has replaced writes and dequeues nothing. It has no column in it, so it
-- is a one-time filter, evaluated once per statement before any row, even for a batch of nothing.
-- The same write stores the document's tsvector (hybrid search's full-text side), so the text a row is found
-- by is the text its vector was made from. A halfvec column takes the vectors by pgvector's implicit cast.
WITH input AS (
  SELECT * FROM unnest($2::text[], $3::uuid[], $4::vector[]) AS i(id, text_hash, embedding)
), written AS (
  UPDATE {{table}} t
  SET {{embedding}} = i.embedding, {{checksum}} = $5, {{text_hash}} = i.text_hash, {{embedded_at}} = now(),
      {{fulltext}} = to_tsvector({{ts_config}}, {{document:t}})
  FROM input i
  -- The = ANY makes the source's primary key drive the plan: without it the planner may hash-join the whole
  -- table, hashing every row's document, because it cannot tell the md5 check is far costlier than it looks.
  WHERE embedsync.writer_allowed($1, $5, {{shadow}})
    AND t.{{id}} = ANY ($2::text[]::{{id_type}}[])
    AND t.{{id}} = i.id::{{id_type}}
    AND md5({{document:t}})::uuid = i.text_hash
  RETURNING i.id
), done AS (
  SELECT id FROM written
  UNION ALL
  SELECT unnest($6::text[])
), dequeued AS (
  DELETE FROM embedsync.queue q
  USING done d, unnest($7::text[], $8::bigint[]) AS c(id, version)
  WHERE embedsync.writer_allowed($1, $5, {{shadow}})
    AND q.source = $1 AND q.id = d.id AND c.id = d.id AND q.version = c.version
  RETURNING q.id, extract(epoch FROM clock_timestamp() - q.changed_at)::float8 AS lag_seconds
), cleared AS (
  DELETE FROM embedsync.deadletter x USING done d WHERE embedsync.writer_allowed($1, $5, {{shadow}}) AND x.source = $1 AND x.id = d.id
)
SELECT id, NULL::float8 AS lag_seconds, true AS written FROM written
UNION ALL
SELECT id, lag_seconds, false FROM dequeued
