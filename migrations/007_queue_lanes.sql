-- Lanes: live work (ordinary application writes) is claimed ahead of bulk work (large statements, migrate's
-- enqueue of existing rows, sweep and verification re-enqueues, dead-letter retries, model-change re-embeds),
-- so a new lead gets its vector within seconds however long the backlog. 0 = live, 1 = bulk. Every enqueue
-- that does not say otherwise is bulk: only the source triggers put rows in the live lane.
ALTER TABLE embedsync.queue ADD COLUMN lane smallint NOT NULL DEFAULT 1 CHECK (lane IN (0, 1));

-- A claim reads each lane's due rows in due order: one range scan per lane, never past its batch.
CREATE INDEX queue_lane_due ON embedsync.queue (source, lane, next_attempt_at);
DROP INDEX embedsync.queue_due;
