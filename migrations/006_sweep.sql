-- Reconciliation sweeps, once per table however many daemons run. One row per source and pass:
--   'changed' (frequent, cheap): rows with no vector or another model's checksum, through the checksum index;
--   'verify'  (slow, bounded):   every row's text hash, in keyset chunks spread over EMBEDSYNC_VERIFY_PERIOD_HOURS.
-- A daemon runs a step only while it holds the row (FOR UPDATE SKIP LOCKED) and only once due_at has passed,
-- and moves due_at on in the same transaction: the pace is the table's, not each daemon's, and a daemon that
-- dies mid-step simply lets go of the row. `position` (the last id verified, as text) is the verification's
-- place in the table, so it resumes there after a restart.
CREATE TABLE embedsync.sweep (
  source            text        NOT NULL,
  pass              text        NOT NULL CHECK (pass IN ('changed', 'verify')),
  due_at            timestamptz NOT NULL DEFAULT now(),
  -- verify: last id of the last chunk; NULL = the next step starts a new round at the first row.
  position          text,
  round_started_at  timestamptz,
  round_rows        bigint      NOT NULL DEFAULT 0,
  round_found       bigint      NOT NULL DEFAULT 0,
  -- When a round last finished (verify: the whole table was verified), how long it took, what it found.
  last_finished_at  timestamptz,
  last_round_seconds float8,
  last_found        bigint,
  rows_total        bigint      NOT NULL DEFAULT 0,
  found_total       bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (source, pass)
);
