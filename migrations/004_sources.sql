-- Several source tables in one database: queue entries and dead letters are keyed by (source, id), so one
-- table's daemon never dequeues, and one table's TRUNCATE or DELETE never removes, another table's work.
-- `source` is the same key as embedsync.state's: "schema.table".
--
-- Existing entries belong to the table embedsync was installed for: the only recorded source when there is
-- one, else the table being migrated (set by migrate for this transaction). Entries that still cannot be
-- placed are dropped; the backfill that follows every migrate, and the daemon's sweep, enqueue such rows again.
ALTER TABLE embedsync.queue ADD COLUMN source text;
ALTER TABLE embedsync.deadletter ADD COLUMN source text;

WITH owner AS (
  SELECT coalesce(
    (SELECT min(source) FROM embedsync.state HAVING count(*) = 1),
    nullif(current_setting('embedsync.migrating_source', true), '')) AS source
)
UPDATE embedsync.queue SET source = (SELECT source FROM owner);
WITH owner AS (
  SELECT coalesce(
    (SELECT min(source) FROM embedsync.state HAVING count(*) = 1),
    nullif(current_setting('embedsync.migrating_source', true), '')) AS source
)
UPDATE embedsync.deadletter SET source = (SELECT source FROM owner);
DELETE FROM embedsync.queue WHERE source IS NULL;
DELETE FROM embedsync.deadletter WHERE source IS NULL;

ALTER TABLE embedsync.queue ALTER COLUMN source SET NOT NULL;
ALTER TABLE embedsync.deadletter ALTER COLUMN source SET NOT NULL;
ALTER TABLE embedsync.queue DROP CONSTRAINT queue_pkey, ADD PRIMARY KEY (source, id);
ALTER TABLE embedsync.deadletter DROP CONSTRAINT deadletter_pkey, ADD PRIMARY KEY (source, id);
-- Each daemon claims the due rows of its own source, oldest first.
DROP INDEX embedsync.queue_due;
CREATE INDEX queue_due ON embedsync.queue (source, next_attempt_at);

-- Which source the unqualified embedsync.similar_to / embedsync.search serve: the first table they were
-- installed for, never re-pointed by a later table's migrate (every table also gets its own functions).
CREATE TABLE embedsync.search_default (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  source   text    NOT NULL
);
-- Installed before this migration: the source whose key the existing similar_to's body names.
INSERT INTO embedsync.search_default (source)
SELECT s.source FROM embedsync.state s JOIN pg_proc p ON strpos(p.prosrc, quote_literal(s.source)) > 0
WHERE p.pronamespace = 'embedsync'::regnamespace AND p.proname = 'similar_to'
ORDER BY s.source
LIMIT 1;
