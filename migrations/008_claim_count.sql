-- Claims not yet settled, counted when a row is claimed. Every outcome settles its claim (a write dequeues the
-- row; a release or a failure takes one off), so a claim still counted when the row is claimed again belongs
-- to a process that ended while it held the row: a native crash in the encoder, an out-of-memory kill. The
-- daemon claims such suspect rows in ever smaller batches and dead-letters a row that keeps ending the
-- process (src/sync/suspects.ts), instead of restart-looping on the same batch.
ALTER TABLE embedsync.queue ADD COLUMN claims integer NOT NULL DEFAULT 0;
