-- For `embedsync status` and the chunks-per-row gauge: the chunks of the recorded model, and the rows they
-- belong to. An exact count: the chunk table is read through its key's index only where it is visible-all.
SELECT count(*)::bigint AS chunks, count(DISTINCT c.id)::bigint AS rows
FROM {{chunk_table}} c
WHERE c.model_checksum = (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}})
