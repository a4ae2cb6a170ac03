-- The first half of replacing the chunks of the rows a write has just given a vector ($1, ids as text) by
-- model $2: their chunks by that model go, and with them any chunks by a model the state no longer names
-- (neither the recorded one nor a migration's target), so a finished model change leaves nothing behind on the
-- rows that are written again. Runs in the transaction of the row's own write (src/queue/chunk-write.ts),
-- after the guarded UPDATE took the row's lock: no concurrent write of the row can interleave.
DELETE FROM {{chunk_table}} c
WHERE c.id = ANY ($1::text[]::{{id_type}}[])
  AND (c.model_checksum = $2
       OR c.model_checksum NOT IN (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}}
                                   UNION ALL
                                   SELECT s.target_checksum FROM embedsync.state s WHERE s.source = {{source_key}} AND s.target_checksum IS NOT NULL))
