-- What the numbered migrations stand on: pgvector, the schema, and the table that records which of them ran.
-- Idempotent, so every migrate runs it before reading embedsync.migrations.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE SCHEMA IF NOT EXISTS embedsync;
CREATE TABLE IF NOT EXISTS embedsync.migrations (
  version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
