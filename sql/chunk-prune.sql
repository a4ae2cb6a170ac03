-- Chunks by a model the state no longer names (after a model change's swap, or an in-place change): search
-- never reads them; migrate and the sweep drop them in one statement per table.
DELETE FROM {{chunk_table}} c
WHERE c.model_checksum NOT IN (SELECT s.model_checksum FROM embedsync.state s WHERE s.source = {{source_key}}
                               UNION ALL
                               SELECT s.target_checksum FROM embedsync.state s WHERE s.source = {{source_key}} AND s.target_checksum IS NOT NULL)
