// `embedsync status [--json] [--exact]`: queue, dead letters, embedding coverage and the model, of the configured
// table or, with EMBEDSYNC_TABLE a list or *, of each table served. Needs no model. The coverage of a large table is
// estimated from its statistics unless --exact (a full count).
import { parseArgs } from 'node:util';
import { createPool } from '../db/pool.ts';
import { selectedSources } from '../db/source-settings.ts';
import { getSyncStatus, type RowCoverage, type SyncStatus } from '../sync/status.ts';
import { LANES } from '../queue/queue.ts';
import { QUEUE_COUNT_LIMIT } from '../queue/queue-status.ts';
import { UsageError, type Command } from './context.ts';

export const statusCommand: Command = async (ctx) => {
  let json: boolean, exact: boolean;
  try {
    ({ json, exact } = parseArgs({
      args: [...ctx.argv],
      options: { json: { type: 'boolean', default: false }, exact: { type: 'boolean', default: false } },
    }).values);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: embedsync status [--json] [--exact]`);
  }
  const config = ctx.config();
  const pool = createPool({ databaseUrl: config.databaseUrl, max: 1, applicationName: 'embedsync-status' });
  try {
    if (config.tables.kind === 'one') {
      const s = await getSyncStatus(pool, config.source, { exact });
      ctx.stdout.write(json ? `${JSON.stringify(s)}\n` : formatStatus(s));
      return 0;
    }
    const { sources, unrecorded } = await selectedSources(pool, config);
    const tables = [];
    for (const r of sources) tables.push(await getSyncStatus(pool, r.source, { exact }));
    if (json) {
      ctx.stdout.write(`${JSON.stringify({ tables, notMigrated: unrecorded })}\n`);
    } else {
      ctx.stdout.write(tables.length ? tables.map(formatStatus).join('\n')
        : 'no table migrated yet: run `embedsync migrate` for each table\n');
      for (const k of unrecorded) {
        ctx.stdout.write(`\n${k}: not migrated (no settings recorded): run \`EMBEDSYNC_TABLE=${k} embedsync migrate\`\n`);
      }
    }
    return 0;
  } finally {
    await pool.end();
  }
};

export function formatStatus(s: SyncStatus): string {
  const age = s.queue.oldestSeconds < 1 ? '-' : formatAge(s.queue.oldestSeconds);
  return [
    `table          ${s.table}`,
    `model          ${s.model ?? '(not migrated)'}  checksum ${s.modelChecksum ?? '-'}  dimension ${s.dimensions ?? '-'}`,
    `queue          ${s.queue.estimated ? `~${s.queue.queued} queued (estimated from the statistics)` : `${s.queue.queued} queued`}, ` +
      `${s.queue.leased} leased, oldest ${s.queue.estimated && age !== '-' ? '~' : ''}${age}`,
    `lanes          ${LANES.map((l) => `${l} ${s.queue.estimated && l === 'bulk' ? '~' : ''}${s.queue.lanes[l].queued}` +
      `${s.queue.lanes[l].queued > 0 ? ` (oldest change ${formatAge(s.queue.lanes[l].oldestSeconds)})` : ''}`).join(', ')}`,
    ...(s.queue.logged ? [`change log     ${s.queue.logged > QUEUE_COUNT_LIMIT ? `over ${QUEUE_COUNT_LIMIT}` : s.queue.logged} ` +
      'changes not in the queue yet (a running daemon moves them every EMBEDSYNC_WATCH_INTERVAL_MS)'] : []),
    `dead-lettered  ${s.queue.deadlettered}`,
    `rows           ${rowsLine(s.rows)}`,
    ...(s.chunks ? [`chunks         ${s.chunks.rows === null ? `~${s.chunks.chunks} (estimated; --exact counts them and their rows)`
      : `${s.chunks.chunks} of ${s.chunks.rows} rows ` +
        `(${s.chunks.rows ? (s.chunks.chunks / s.chunks.rows).toFixed(1) : '0'} a row)`}`] : []),
    ...(s.rows.stale ? [`re-embedding   ${s.rows.estimated ? '~' : ''}` +
      `${pct((s.rows.current ?? 0) + (s.rows.blank ?? 0), s.rows.total)} done, ` +
      `${s.rows.estimated ? '~' : ''}${s.rows.stale} rows left (new model checksum)`] : []),
    ...(s.sweep ? [`verified       ${s.sweep.lastVerifiedAt === null ? 'never fully'
      : `${s.sweep.lastVerifiedAt} (round of ${formatAge(s.sweep.lastVerifySeconds ?? 0)}, ` +
        `${s.sweep.lastVerifyFound ?? 0} rows found changed)`}` +
      `; current round ${s.sweep.verifyRows}/~${Math.round(s.sweep.estimatedRows)} rows; ` +
      `cheap pass ${s.sweep.changedAt ?? 'not yet run'}`] : []),
    ...(s.migration ? [`migration      to ${s.migration.model} (${s.migration.dimensions} dimensions), step ${s.migration.step} done` +
      (s.migration.done !== null ? `; new column ${s.migration.estimated ? '~' : ''}${s.migration.done}/${s.migration.total} rows ` +
        `(${pct(s.migration.done, s.migration.total ?? 0)}` +
        `${s.migration.estimated ? ', estimated from the statistics' : ''})` : '')] : []),
    '',
  ].join('\n');
}

function rowsLine(r: RowCoverage): string {
  if (!r.estimated) return `${r.total} total: ${r.current} current, ${r.stale} stale, ${r.missing} missing, ${r.blank} blank`;
  const basis = r.analyzedAt ? `estimated from the table's statistics, split as of its last analyze ${r.analyzedAt}`
    : 'estimated from the table\'s statistics';
  if (r.current === null) return `~${r.total} total (${basis}; not analyzed yet, so no split: \`embedsync status --exact\` counts)`;
  return `~${r.total} total: ~${r.current} current, ~${r.stale} stale, ~${r.missing} missing, ~${r.blank} blank ` +
    `(${basis}; \`embedsync status --exact\` counts)`;
}

function pct(n: number, total: number): string {
  return `${total > 0 ? ((100 * n) / total).toFixed(1) : '100.0'}%`;
}

function formatAge(sec: number): string {
  if (sec < 120) return `${Math.round(sec)}s`;
  if (sec < 7200) return `${Math.round(sec / 60)}m`;
  return `${(sec / 3600).toFixed(1)}h`;
}
