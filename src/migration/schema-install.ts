// Installs and upgrades embedsync's schema: the numbered, forward-only files of migrations/ (bookkept in
// embedsync.migrations), then the source-specific columns and triggers generated from config, then the
// model state and the sweep's rows. Everything runs under the migrate lock, so concurrent `migrate` runs
// serialize and the second finds nothing left to do.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../db/pg-errors.ts';
import type { Capture, SourceConfig } from '../config/index.ts';
import { releaseMigrateLock, takeMigrateLock } from '../db/migrate-lock.ts';
import { checkServerVersions } from '../db/server-versions.ts';
import { checkIdColumn, inspectSource, SourceError, type SourceInfo } from '../db/source-info.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';
import { documentColumns } from '../db/document-columns.ts';
import { mainColumns, nextColumns } from '../db/model-state.ts';
import { sourceKeyOf, stemOf } from '../db/source-sql.ts';
import { hasSchemaTable, otherSources, readModelState, recordModel, type ModelIdentity } from '../db/state-repository.ts';
import { ensureSweepIndex } from '../db/sweep-index.ts';
import { ensureNewRowsIndex, installInsertCapture, type InsertCapture } from '../db/new-rows-index.ts';
import { installCapture, logicalCaptureProblem } from '../db/logical-capture.ts';
import { checkTextSearchConfig, ensureFullText, type FullTextResult } from '../db/fulltext.ts';
import { inTransaction } from '../db/transaction.ts';
import { installChunkTable } from '../db/chunk-table.ts';
import { isPartitioned } from '../db/partitioned-index.ts';
import { ensureSweepRows } from '../queue/sweep.ts';
import { checkRecordedSettings, recordSource, type RecordedSource } from '../db/source-settings.ts';

export { inTransaction } from '../db/transaction.ts';
export { MIGRATE_LOCK_KEY, takeMigrateLock } from '../db/migrate-lock.ts';
export type { ModelIdentity } from '../db/state-repository.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export interface MigrateResult {
  readonly applied: readonly string[];
  readonly addedColumns: readonly string[];
  /** Things migrate could not do that embedsync works without (said on stderr by the CLI). */
  readonly warnings: readonly string[];
  /** Settings recorded by an earlier migrate that this one replaced (--update-settings). */
  readonly settingsChanged: readonly string[];
  /** The previous model checksum when it changed (rows become stale and are re-embedded). */
  readonly previousChecksum: string | undefined;
  readonly source: SourceInfo;
  /** Hybrid search's tsvector column: rows filled now, and whether its index was built. */
  readonly fullText: FullTextResult;
  /** Who takes inserts: the daemons' watch (ids from a sequence, no INSERT trigger) or the INSERT trigger. */
  readonly insertCapture: InsertCapture;
  /** Triggers, or logical decoding of the WAL (EMBEDSYNC_CAPTURE=logical): then no INSERT or UPDATE trigger at all. */
  readonly capture: Capture;
  /** The UPDATE trigger's function: compiled (the extension embedsync_capture) or PL/pgSQL. */
  readonly updateFunction: UpdateFunction;
  /** The server has embedsync_capture's files, but this database has not created the extension. */
  readonly compiledAvailable: boolean;
}

export type UpdateFunction = 'compiled' | 'plpgsql';

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

export interface SchemaOptions {
  /** Record the table's settings (embedsync.sources); absent while a model migration keeps the old model. */
  readonly record?: RecordedSource;
  /** Settings that differ from the recorded ones are refused unless this is set (migrate --update-settings). */
  readonly updateSettings?: boolean;
}

export async function migrateSchema(client: pg.Client, source: SourceConfig, model: ModelIdentity,
  opts: SchemaOptions = {}): Promise<MigrateResult> {
  // Everything that can refuse is checked before anything changes, so a refusal leaves the database as it was.
  await checkServerVersions(client);
  await takeMigrateLock(client);
  try {
    let info = await inspectSource(client, source);
    await checkIdColumn(client, source);
    if (info.embeddingDimensions !== undefined && info.embeddingDimensions !== model.dimensions) {
      throw new SourceError(`${info.sql.table}.${source.embeddingColumn} holds vector(${info.embeddingDimensions}) but the model ` +
        `${model.name} makes ${model.dimensions}-dimension vectors: a dimension change needs the model migration, not a plain migrate`);
    }
    await checkNameClash(client, source);
    const settingsChanged = await checkRecordedSettings(client, source, opts.updateSettings ?? false);
    await checkTextSearchConfig(client, source);
    if (source.capture === 'logical') {
      const problem = await logicalCaptureProblem(client, info.sql);
      if (problem) throw new SourceError(problem);
    }
    const applied = await applyMigrations(client, sourceKeyOf(source));

    const addedColumns = info.missingColumns;
    const previous = await readModelState(client, info.sql.sourceKey);
    const { rows: [compiled] } = await client.query<{ installed: boolean; available: boolean; usable: boolean }>(
      loadSql('capture-compiled'));
    await inTransaction(client, async () => {
      // Short waits only: on a busy table, fail and let the operator retry rather than stall every reader.
      await client.query(loadSql('lock-timeout-local'), ['5s']);
      if (addedColumns.length > 0) await client.query(renderSql('source-columns', info.sql, { dimensions: model.dimensions }));
      const documentSql = source.documentSql;
      await client.query(renderSql('source-install', info.sql, {
        documentSql, compiledCapture: compiled!.usable,
        ...(documentSql !== undefined
          ? { documentColumns: await documentColumns(client, info.sql, documentSql, managedColumns(source)) }
          : {}),
      }));
      // A partitioned table: a row moved to another partition with a new document fires no UPDATE trigger.
      if (await isPartitioned(client, info.sql.table)) await client.query(renderSql('source-move-trigger', info.sql));
      await recordModel(client, info.sql.sourceKey, model);
      await ensureSweepRows(client, info.sql.sourceKey);
      await installChunkTable(client, info.sql);
      if (opts.record) await recordSource(client, opts.record);
    });
    // Not in a transaction: a plain table's index is built concurrently. Without the right to create it (a
    // role that may alter the table but not create in its schema) the cheap sweep pass still works, reading
    // the table instead of an index: a warning, not a refusal.
    const warnings: string[] = [];
    await ensureSweepIndex(client, info.sql, model.checksum).catch((err: unknown) => {
      if (sqlState(err) !== INSUFFICIENT_PRIVILEGE) throw err;
      warnings.push(`could not create the sweep's index on ${info.sql.table} (${(err as Error).message}): ` +
        'the reconciliation sweep will read the whole table every EMBEDSYNC_SWEEP_INTERVAL_MS; ' +
        'grant CREATE on the table\'s schema to the table\'s owner and run migrate again');
    });
    // Inserts: the watch reads the new-rows index where ids come from a sequence; the INSERT trigger otherwise.
    const newRowsIndex = await ensureNewRowsIndex(client, info.sql).then(() => true, (err: unknown) => {
      if (sqlState(err) !== INSUFFICIENT_PRIVILEGE) throw err;
      warnings.push(`could not create the new-rows index on ${info.sql.table} (${(err as Error).message}): inserts are taken by ` +
        'a trigger, which costs the application\'s INSERTs more; ' +
        'grant CREATE on the table\'s schema to the table\'s owner and run migrate again');
      return false;
    });
    const insertCapture = await installInsertCapture(client, info.sql, source.idColumn, newRowsIndex);
    // EMBEDSYNC_CAPTURE=logical: inserts and updates from the WAL, their triggers dropped (unset: as the table has it).
    const capture = await installCapture(client, info.sql, source.capture);
    if (capture === 'triggers' && compiled!.installed && !compiled!.usable) {
      warnings.push('the database has the extension embedsync_capture, but this role may not execute embedsync.capture_update(): ' +
        `${info.sql.table}'s UPDATE trigger calls the PL/pgSQL function, which costs a text UPDATE more; ` +
        'GRANT EXECUTE ON FUNCTION embedsync.capture_update() TO this role and run migrate again');
    }
    // The tsvector of rows written before the column existed (or in another configuration), and its GIN index.
    const fullText = await ensureFullText(client, info.sql, source).catch((err: unknown): FullTextResult => {
      if (sqlState(err) !== INSUFFICIENT_PRIVILEGE) throw err;
      warnings.push(`could not fill or index ${info.sql.table}.${source.fulltextColumn} (${(err as Error).message}): hybrid search ` +
        'finds by text only the rows the daemon writes from now on; run migrate as the table\'s owner');
      return { filled: 0, rebuilt: undefined, indexBuilt: false };
    });
    if (addedColumns.length > 0) info = await inspectSource(client, source);
    const prev = previous?.checksum;
    return {
      applied, addedColumns, warnings, settingsChanged, previousChecksum: prev !== undefined && prev !== model.checksum ? prev : undefined,
      source: info, fullText, insertCapture, capture, updateFunction: compiled!.usable ? 'compiled' : 'plpgsql',
      compiledAvailable: compiled!.available && !compiled!.installed,
    };
  } finally {
    await releaseMigrateLock(client);
  }
}

/** The columns embedsync writes on the source table (both vector column sets): never part of a document. */
function managedColumns(source: SourceConfig): string[] {
  return [source.embeddedAtColumn, source.fulltextColumn, ...(Object.values(mainColumns(source)) as string[]),
    ...(Object.values(nextColumns(source)) as string[])];
}

/** Brings schema embedsync up to date (the caller holds the migrate lock); the names of the files applied. */
export function upgradeSchema(client: pg.Client, sourceKey: string): Promise<string[]> {
  return applyMigrations(client, sourceKey);
}

/** Runs the migrations/ files this database has not had yet, each in its own transaction with its record. */
async function applyMigrations(client: pg.Client, sourceKey: string): Promise<string[]> {
  await client.query(loadSql('schema-bootstrap'));
  const done = new Set((await client.query<{ version: number }>(loadSql('migrations-applied'))).rows.map((r) => r.version));
  const applied: string[] = [];
  for (const m of listMigrations()) {
    if (done.has(m.version)) continue;
    await inTransaction(client, async () => {
      await client.query(loadSql('migrating-source'), [sourceKey]);
      await client.query(m.sql);
      await client.query(loadSql('migration-record'), [m.version, m.name]);
    });
    applied.push(m.name);
  }
  return applied;
}

/**
 * Two tables whose generated names would coincide (`a_b` in public and `b` in schema `a`) would share
 * triggers and search functions: refused before anything changes.
 */
async function checkNameClash(client: pg.Client, source: SourceConfig): Promise<void> {
  if (!(await hasSchemaTable(client, 'state'))) return;
  const key = sourceKeyOf(source);
  const stem = stemOf(source.table);
  for (const other of await otherSources(client, key)) {
    const dot = other.indexOf('.');
    if (stemOf({ schema: other.slice(0, dot), name: other.slice(dot + 1) }) === stem) {
      throw new SourceError(`${key} and ${other} would share the generated names embedsync.${stem}_*; rename one of the tables`);
    }
  }
}
