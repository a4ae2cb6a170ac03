-- The last exact count of the rows with a vector in a source's embedding column (or a shadow column), and
-- where the table's write counters stood just before it. The index policy decides from this and the
-- planner's statistics instead of counting the table on every check: the rows with vectors can have moved
-- by at most the writes since (inserts + updates + deletes, pg_stat_get_tuples_*), so while that band and
-- the statistics keep clear of every build/rebuild threshold, no count is needed. `relations` names the
-- table's storage (leaf oids and relfilenodes), the column's attnum and the server's start: a TRUNCATE, a
-- partition attached or detached, the column dropped and added again or swapped by a model change, or a
-- restart (whose crash recovery may reset the counters) makes the record void.
CREATE TABLE embedsync.vector_count (
  source      text        NOT NULL,
  column_name text        NOT NULL,
  rows        bigint      NOT NULL,
  writes      bigint      NOT NULL,
  relations   text        NOT NULL,
  counted_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, column_name)
);
