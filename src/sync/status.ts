// The sync status shown by `embedsync status` (printed by src/cli/status.ts) and GET /status: queue, dead
// letters, embedding coverage and the model recorded by migrate. Reads only; never needs the model loaded.
// Milliseconds on any table size: the coverage of a table past SMALL_TABLE_PAGES is estimated from its statistics (and says so)
// unless `exact` asks for the count, a scan of the whole table.
import { chunkStats, type ChunkStats } from '../db/chunk-table.ts';
import type { SourceConfig } from '../config/index.ts';
import type { Queryable } from '../db/pool.ts';
import { inspectSource } from '../db/source-info.ts';
import { renderSql } from '../db/sql-template.ts';
import { estimateCoverage, SMALL_TABLE_PAGES } from '../db/coverage-estimate.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { queueStatus, type QueueStatus } from '../queue/queue-status.ts';
import { migrationProgress, type MigrationProgress } from '../migration/progress.ts';
import { hasSchemaTable, readModelState } from '../db/state-repository.ts';
import { requireInstalled, requireSourceMigrated } from '../db/installed.ts';

export interface SyncStatus {
  readonly table: string;
  readonly model: string | null;
  readonly modelChecksum: string | null;
  readonly dimensions: number | null;
  readonly queue: QueueStatus;
  readonly rows: RowCoverage;
  /** The reconciliation sweeps (absent before the migrate that installs them). */
  readonly sweep?: SweepStatus;
  /** A dimension migration under way (shadow columns being filled). */
  readonly migration?: MigrationProgress;
  /** A chunked table (EMBEDSYNC_CHUNKING=tokens): the chunks of the recorded model and the rows they cover. */
  readonly chunks?: ChunkStats;
}

export interface RowCoverage {
  readonly total: number;
  /** Embedded by the current model (null: estimated, and the table has not been analyzed yet). */
  readonly current: number | null;
  /** Embedded by another model (waiting for re-embedding). */
  readonly stale: number | null;
  /** No embedding yet. */
  readonly missing: number | null;
  /** Blank document: NULL embedding on purpose. */
  readonly blank: number | null;
  /** True when every figure here is an estimate from the table's statistics, not a count. */
  readonly estimated: boolean;
  /** Estimated: when the table was last analyzed (the split is as of then; the total follows writes). */
  readonly analyzedAt?: string | null;
}

export interface SweepStatus {
  /** When a verification round last covered the whole table (ISO time), null if none has yet. */
  readonly lastVerifiedAt: string | null;
  readonly lastVerifySeconds: number | null;
  /** Rows the last finished round enqueued (text changed behind the triggers' back). */
  readonly lastVerifyFound: number | null;
  /** The round under way: rows verified so far, of about this many. */
  readonly verifyRows: number;
  readonly estimatedRows: number;
  /** When the cheap pass (no vector, another model's) last ran. */
  readonly changedAt: string | null;
}

export type StatusProvider = () => Promise<SyncStatus>;

export async function getSyncStatus(db: Queryable, source: SourceConfig, o: { exact?: boolean } = {}): Promise<SyncStatus> {
  await requireInstalled(db, ['state', 'queue', 'deadletter']);
  const info = await inspectSource(db, source);
  requireSourceMigrated(info);
  const st = await readModelState(db, info.sql.sourceKey);
  const queue = await queueStatus(db, info.sql, o.exact ?? false);
  const rows = await rowCoverage(db, source, info.sql, st?.checksum ?? null, o.exact ?? false);
  return {
    table: info.sql.sourceKey,
    model: st?.model ?? null,
    modelChecksum: st?.checksum ?? null,
    dimensions: st?.dimensions ?? info.embeddingDimensions ?? null,
    queue,
    rows,
    ...await sweepStatus(db, info.sql).then((w) => (w ? { sweep: w } : {})),
    ...await migrationProgress(db, source, info.sql, o).then((m) => (m ? { migration: m } : {})),
    ...await chunkStats(db, info.sql, o.exact ?? false).then((c) => (c ? { chunks: c } : {})),
  };
}

async function rowCoverage(db: Queryable, source: SourceConfig, sql: SourceSql, checksum: string | null,
  exact: boolean): Promise<RowCoverage> {
  const e = await estimateCoverage(db, sql.table, checksum, source.embeddingColumn, source.checksumColumn);
  if (exact || e.pages <= SMALL_TABLE_PAGES) {
    const c = (await db.query<{ current: number; blank: number; stale: number; missing: number; total: number }>(
      renderSql('row-coverage', sql), [checksum])).rows[0]!;
    return { total: c.total, current: c.current, stale: c.stale, missing: c.missing, blank: c.blank, estimated: false };
  }
  const total = Math.round(e.total);
  const analyzedAt = e.analyzedAt?.toISOString() ?? null;
  if (!e.analyzed) return { total, current: null, stale: null, missing: null, blank: null, estimated: true, analyzedAt };
  // Rows never embedded have neither checksum nor vector; a NULL vector beside a checksum is a blank document.
  const missing = e.noChecksum!;
  const blank = Math.max(0, e.noVector! - missing);
  const stale = Math.max(0, e.total - e.currentChecksum! - missing);
  const current = Math.max(0, e.currentChecksum! - blank);
  return {
    total, current: Math.round(current), stale: Math.round(stale), missing: Math.round(missing), blank: Math.round(blank), estimated: true,
    analyzedAt,
  };
}

async function sweepStatus(db: Queryable, sql: SourceSql): Promise<SweepStatus | undefined> {
  if (!await hasSchemaTable(db, 'sweep')) return undefined;
  const { rows } = await db.query<{
    pass: string; last_finished_at: Date | null; last_round_seconds: number | null; last_found: string | null; round_rows: string;
    estimated_rows: number;
  }>(
    renderSql('sweep-status', sql), [sql.sourceKey, sql.table]);
  const verify = rows.find((r) => r.pass === 'verify');
  const changed = rows.find((r) => r.pass === 'changed');
  return {
    lastVerifiedAt: verify?.last_finished_at?.toISOString() ?? null,
    lastVerifySeconds: verify?.last_round_seconds ?? null,
    lastVerifyFound: verify?.last_found == null ? null : Number(verify.last_found),
    verifyRows: Number(verify?.round_rows ?? 0),
    estimatedRows: rows[0]?.estimated_rows ?? 0,
    changedAt: changed?.last_finished_at?.toISOString() ?? null,
  };
}
