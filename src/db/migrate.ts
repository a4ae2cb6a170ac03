// Installs and upgrades embedsync's schema: the numbered, forward-only files of migrations/ (bookkept in
// embedsync.migrations), then the source-specific columns and triggers generated from config, then the
// model state. Everything runs under one session advisory lock, so concurrent `migrate` runs serialize and
// the second finds nothing left to do.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { SourceConfig } from '../config/index.ts';
import { checkIdColumn, inspectSource, SourceError, type SourceInfo } from './source-info.ts';
import { renderSql } from './sql-template.ts';
import { sourceKeyOf, stemOf } from './source-sql.ts';
import { ensureSweepIndex } from './sweep-index.ts';
import { ensureSweepRows } from '../queue/sweep.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
/** Arbitrary but fixed: every embedsync migrate of a database contends for this one lock. */
export const MIGRATE_LOCK_KEY = 7_310_462_118_054_551n;

export interface ModelIdentity {
  readonly name: string;
  readonly checksum: string;
  readonly dimensions: number;
}

export interface MigrateResult {
  readonly applied: readonly string[];
  readonly addedColumns: readonly string[];
  /** Things migrate could not do that embedsync works without (said on stderr by the CLI). */
  readonly warnings: readonly string[];
  /** The previous model checksum when it changed (rows become stale and are re-embedded). */
  readonly previousChecksum: string | undefined;
  readonly source: SourceInfo;
}

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_[a-z0-9_-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number.parseInt(f, 10), name: f, sql: readFileSync(`${dir}${f}`, 'utf8') }));
}

/**
 * Takes the migrate lock by polling rather than waiting inside one statement: a migrate that waits in
 * pg_advisory_lock holds a transaction open the whole time, and the holder's CREATE INDEX CONCURRENTLY
 * waits for every such transaction to end — a deadlock between two `migrate` runs started together.
 */
export async function takeMigrateLock(client: pg.Client | pg.PoolClient): Promise<void> {
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MIGRATE_LOCK_KEY.toString()]);
    if (rows[0]!.ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function migrateSchema(client: pg.Client, source: SourceConfig, model: ModelIdentity): Promise<MigrateResult> {
  await takeMigrateLock(client);
  try {
    // Everything that can refuse is checked before anything changes, so a refusal leaves the database as it was.
    let info = await inspectSource(client, source);
    await checkIdColumn(client, source);
    if (info.embeddingDimensions !== undefined && info.embeddingDimensions !== model.dimensions) {
      throw new SourceError(`${info.sql.table}.${source.embeddingColumn} holds vector(${info.embeddingDimensions}) but the model ` +
        `${model.name} makes ${model.dimensions}-dimension vectors: a dimension change needs the model migration, not a plain migrate`);
    }
    await checkNameClash(client, source);
    await client.query('CREATE EXTENSION IF NOT EXISTS vector');
    await client.query('CREATE SCHEMA IF NOT EXISTS embedsync');
    await client.query(`CREATE TABLE IF NOT EXISTS embedsync.migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM embedsync.migrations')).rows.map((r) => r.version));
    const applied: string[] = [];
    for (const m of listMigrations()) {
      if (done.has(m.version)) continue;
      await inTransaction(client, async () => {
        // Migrations that key existing rows by source need to know which table this migrate is for.
        await client.query("SELECT set_config('embedsync.migrating_source', $1, true)", [sourceKeyOf(source)]);
        await client.query(m.sql);
        await client.query('INSERT INTO embedsync.migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      });
      applied.push(m.name);
    }

    const addedColumns = info.missingColumns;
    const previous = await client.query<{ model_checksum: string }>('SELECT model_checksum FROM embedsync.state WHERE source = $1', [info.sql.sourceKey]);
    await inTransaction(client, async () => {
      // Short waits only: on a busy table, fail and let the operator retry rather than stall every reader.
      await client.query("SET LOCAL lock_timeout = '5s'");
      if (addedColumns.length > 0) await client.query(renderSql('source-columns', info.sql, { dimensions: model.dimensions }));
      await client.query(renderSql('source-install', info.sql, { documentSql: source.documentSql }));
      await client.query(
        `INSERT INTO embedsync.state (source, model, model_checksum, dimensions) VALUES ($1, $2, $3, $4)
         ON CONFLICT (source) DO UPDATE SET model = excluded.model, model_checksum = excluded.model_checksum,
           dimensions = excluded.dimensions, updated_at = now()
         WHERE (state.model, state.model_checksum, state.dimensions) IS DISTINCT FROM (excluded.model, excluded.model_checksum, excluded.dimensions)`,
        [info.sql.sourceKey, model.name, model.checksum, model.dimensions],
      );
      await ensureSweepRows(client, info.sql.sourceKey);
    });
    // Not in a transaction: a plain table's index is built concurrently. Without the right to create it (a
    // role that may alter the table but not create in its schema) the cheap sweep pass still works, reading
    // the table instead of an index: a warning, not a refusal.
    const warnings: string[] = [];
    await ensureSweepIndex(client, info.sql, model.checksum).catch((err: unknown) => {
      if ((err as { code?: string }).code !== '42501') throw err;
      warnings.push(`could not create the sweep's index on ${info.sql.table} (${(err as Error).message}): ` +
        `the reconciliation sweep will read the whole table every EMBEDSYNC_SWEEP_INTERVAL_MS; grant CREATE on the table's schema to the table's owner and run migrate again`);
    });
    if (addedColumns.length > 0) info = await inspectSource(client, source);
    const prev = previous.rows[0]?.model_checksum;
    return { applied, addedColumns, warnings, previousChecksum: prev !== undefined && prev !== model.checksum ? prev : undefined, source: info };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK_KEY.toString()]).catch(() => undefined);
  }
}

/**
 * Two tables whose generated names would coincide (`a_b` in public and `b` in schema `a`) would share
 * triggers and search functions: refused before anything changes.
 */
async function checkNameClash(client: pg.Client, source: SourceConfig): Promise<void> {
  const exists = (await client.query<{ t: string | null }>("SELECT to_regclass('embedsync.state')::text AS t")).rows[0]!.t !== null;
  if (!exists) return;
  const key = sourceKeyOf(source);
  const stem = stemOf(source.table);
  const { rows } = await client.query<{ source: string }>('SELECT source FROM embedsync.state WHERE source <> $1', [key]);
  for (const r of rows) {
    const dot = r.source.indexOf('.');
    if (stemOf({ schema: r.source.slice(0, dot), name: r.source.slice(dot + 1) }) === stem) {
      throw new SourceError(`${key} and ${r.source} would share the generated names embedsync.${stem}_*; rename one of the tables`);
    }
  }
}

export async function inTransaction<T>(client: pg.Client | pg.PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
