-- A shadow migration's backfill encodes in migrate's own process, so a row that ends that process (a native crash
-- in ONNX Runtime, an out-of-memory kill) would end every rerun at the same chunk. Before each encode the backfill
-- records the rows in hand here and clears them once written: a run that finds rows left over knows they were in
-- hand when a run ended, and encodes them in halves down to one row (src/migration/backfill-suspects.ts). A row
-- that ends a run alone twice is dead-lettered and skipped by the rest of the migration.
CREATE TABLE embedsync.backfill_suspects (
  source    text    NOT NULL,
  -- The migration's target model: a migration to another model starts with nothing in hand.
  checksum  text    NOT NULL,
  -- Rows being encoded now; NULL between encodes.
  in_hand   text[],
  -- Runs that already ended with exactly these rows in hand.
  ends      integer NOT NULL DEFAULT 0,
  -- Rows dead-lettered for ending runs alone: the rest of this migration does not encode them.
  skipped   text[]  NOT NULL DEFAULT '{}',
  PRIMARY KEY (source, checksum)
);
