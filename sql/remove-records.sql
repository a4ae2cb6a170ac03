-- `embedsync remove`: everything embedsync keeps about source $1 in its own tables, in one statement (data-
-- modifying CTEs) so the counts reported are what was deleted: queue entries, dead letters, the model state,
-- the sweep's rows, the vector index record, the recorded settings, the search default it held, the full-text
-- record, the stored vector count and a backfill's record of rows in hand.
WITH q AS (DELETE FROM embedsync.queue WHERE source = $1 RETURNING 1),
     d AS (DELETE FROM embedsync.deadletter WHERE source = $1 RETURNING 1),
     st AS (DELETE FROM embedsync.state WHERE source = $1 RETURNING 1),
     sw AS (DELETE FROM embedsync.sweep WHERE source = $1 RETURNING 1),
     vi AS (DELETE FROM embedsync.vector_index WHERE source = $1 RETURNING 1),
     so AS (DELETE FROM embedsync.sources WHERE source = $1 RETURNING 1),
     sd AS (DELETE FROM embedsync.search_default WHERE source = $1 RETURNING 1),
     ft AS (DELETE FROM embedsync.fulltext WHERE source = $1 RETURNING 1),
     vc AS (DELETE FROM embedsync.vector_count WHERE source = $1 RETURNING 1),
     bs AS (DELETE FROM embedsync.backfill_suspects WHERE source = $1)
SELECT (SELECT count(*) FROM q)::int AS queued, (SELECT count(*) FROM d)::int AS deadlettered,
       (SELECT count(*) FROM st)::int AS state, (SELECT count(*) FROM sw)::int AS sweep,
       (SELECT count(*) FROM vi)::int AS index_record, (SELECT count(*) FROM so)::int AS settings,
       (SELECT count(*) FROM sd)::int AS search_default, (SELECT count(*) FROM ft)::int AS fulltext,
       (SELECT count(*) FROM vc)::int AS vector_count
