// The sync status shown by `embedsync status` and GET /status: queue, dead letters, embedding coverage
// and the model recorded by migrate. Reads only; never needs the model loaded.
import type { SourceConfig } from '../config/index.ts';
import type { Queryable } from '../db/pool.ts';
import { inspectSource } from '../db/source-info.ts';
import { renderSql } from '../db/sql-template.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { LANES, queueOps, type QueueStats } from '../queue/queue.ts';
import { migrationProgress, type MigrationProgress } from '../migration/progress.ts';
import { hasSchemaTable, readModelState } from '../db/state-repository.ts';
import { requireInstalled, requireSourceMigrated } from '../db/installed.ts';

export interface SyncStatus {
  readonly table: string;
  readonly model: string | null;
  readonly modelChecksum: string | null;
  readonly dimensions: number | null;
  readonly queue: QueueStats;
  readonly rows: {
    readonly total: number;
    /** Embedded by the current model. */
    readonly current: number;
    /** Embedded by another model (waiting for re-embedding). */
    readonly stale: number;
    /** No embedding yet. */
    readonly missing: number;
    /** Blank document: NULL embedding on purpose. */
    readonly blank: number;
  };
  /** The reconciliation sweeps (absent before the migrate that installs them). */
  readonly sweep?: SweepStatus;
  /** A dimension migration under way (shadow columns being filled). */
  readonly migration?: MigrationProgress;
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

export async function getSyncStatus(db: Queryable, source: SourceConfig): Promise<SyncStatus> {
  await requireInstalled(db, ['state', 'queue', 'deadletter']);
  const info = await inspectSource(db, source);
  requireSourceMigrated(info);
  const st = await readModelState(db, info.sql.sourceKey);
  const queue = await queueOps(db, info.sql, 0).stats();
  const cov = (await db.query<{ current: number; blank: number; stale: number; missing: number; total: number }>(
    renderSql('row-coverage', info.sql), [st?.checksum ?? null])).rows[0]!;
  return {
    table: info.sql.sourceKey,
    model: st?.model ?? null,
    modelChecksum: st?.checksum ?? null,
    dimensions: st?.dimensions ?? info.embeddingDimensions ?? null,
    queue,
    rows: { total: cov.total, current: cov.current, stale: cov.stale, missing: cov.missing, blank: cov.blank },
    ...await sweepStatus(db, info.sql).then((w) => (w ? { sweep: w } : {})),
    ...await migrationProgress(db, source, info.sql).then((m) => (m ? { migration: m } : {})),
  };
}

export function formatStatus(s: SyncStatus): string {
  const age = s.queue.oldestSeconds < 1 ? '-' : formatAge(s.queue.oldestSeconds);
  return [
    `table          ${s.table}`,
    `model          ${s.model ?? '(not migrated)'}  checksum ${s.modelChecksum ?? '-'}  dimension ${s.dimensions ?? '-'}`,
    `queue          ${s.queue.queued} queued, ${s.queue.leased} leased, oldest ${age}`,
    `lanes          ${LANES.map((l) => `${l} ${s.queue.lanes[l].queued}${s.queue.lanes[l].queued > 0 ? ` (oldest change ${formatAge(s.queue.lanes[l].oldestSeconds)})` : ''}`).join(', ')}`,
    `dead-lettered  ${s.queue.deadlettered}`,
    `rows           ${s.rows.total} total: ${s.rows.current} current, ${s.rows.stale} stale, ${s.rows.missing} missing, ${s.rows.blank} blank`,
    ...(s.rows.stale > 0 ? [`re-embedding   ${pct(s.rows.current + s.rows.blank, s.rows.total)} done, ${s.rows.stale} rows left (new model checksum)`] : []),
    ...(s.sweep ? [`verified       ${s.sweep.lastVerifiedAt === null ? 'never fully' : `${s.sweep.lastVerifiedAt} (round of ${formatAge(s.sweep.lastVerifySeconds ?? 0)}, ${s.sweep.lastVerifyFound ?? 0} rows found changed)`}` +
      `; current round ${s.sweep.verifyRows}/~${Math.round(s.sweep.estimatedRows)} rows; cheap pass ${s.sweep.changedAt ?? 'not yet run'}`] : []),
    ...(s.migration ? [`migration      to ${s.migration.model} (${s.migration.dimensions} dimensions), step ${s.migration.step} done` +
      (s.migration.done !== null ? `; new column ${s.migration.done}/${s.migration.total} rows (${pct(s.migration.done, s.migration.total ?? 0)})` : '')] : []),
    '',
  ].join('\n');
}

async function sweepStatus(db: Queryable, sql: SourceSql): Promise<SweepStatus | undefined> {
  if (!await hasSchemaTable(db, 'sweep')) return undefined;
  const { rows } = await db.query<{ pass: string; last_finished_at: Date | null; last_round_seconds: number | null; last_found: string | null; round_rows: string; estimated_rows: number }>(
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

function pct(n: number, total: number): string {
  return `${total > 0 ? ((100 * n) / total).toFixed(1) : '100.0'}%`;
}

function formatAge(sec: number): string {
  if (sec < 120) return `${Math.round(sec)}s`;
  if (sec < 7200) return `${Math.round(sec / 60)}m`;
  return `${(sec / 3600).toFixed(1)}h`;
}
