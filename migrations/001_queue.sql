-- Durable work queue, dead letters and per-source state for the sync daemon.
-- Source ids are stored as text so any primary-key type (bigint, uuid, text) works; the daemon casts them
-- back to the source's id type when it joins, so the source's primary-key index is used.

-- One row per source id with pending work. Repeated changes coalesce on the primary key (the trigger's
-- INSERT ... ON CONFLICT bumps version), so a hot row never piles up work.
CREATE TABLE embedsync.queue (
  id              text        PRIMARY KEY,
  -- Bumped by every change; the daemon dequeues only the version it claimed, so a change that lands while
  -- a batch is in flight keeps the row queued.
  version         bigint      NOT NULL DEFAULT 1,
  -- First and latest change since the row was last embedded (oldest-age metric; change-to-embedding lag).
  enqueued_at     timestamptz NOT NULL DEFAULT now(),
  changed_at      timestamptz NOT NULL DEFAULT now(),
  attempts        integer     NOT NULL DEFAULT 0,
  -- Claimable when <= now(). A claim sets it to the lease expiry, so one index serves both "due" and
  -- "lease expired" and a crashed daemon's rows come back by themselves.
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_owner     text,
  last_error      text
);
CREATE INDEX queue_due ON embedsync.queue (next_attempt_at);

-- Rows that failed EMBEDSYNC_MAX_ATTEMPTS times. `embedsync deadletter retry` moves them back.
CREATE TABLE embedsync.deadletter (
  id          text        PRIMARY KEY,
  attempts    integer     NOT NULL,
  last_error  text,
  enqueued_at timestamptz NOT NULL,
  failed_at   timestamptz NOT NULL DEFAULT now()
);

-- Which model made the vectors of each source table: migrate writes it, the daemon checks it at start.
CREATE TABLE embedsync.state (
  source         text        PRIMARY KEY,
  model          text        NOT NULL,
  model_checksum text        NOT NULL,
  dimensions     integer     NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
