// `embedsync index status [--json]` and `embedsync index rebuild [--force]`: the vector index of the
// embedding column against the policy (EMBEDSYNC_INDEX, growth factor, minimum rows). rebuild builds or
// rebuilds only when due unless --force; run it from cron (or after a bulk load) to follow growth.
import { parseArgs } from 'node:util';
import type { Config } from '../config/index.ts';
import { createClient } from '../db/pool.ts';
import { readModelState } from '../db/state-repository.ts';
import { requireInstalled, requireSourceMigrated } from '../db/installed.ts';
import { inspectSource } from '../db/source-info.ts';
import { ensureIndex, getIndexStatus, type IndexStatus } from '../db/vector-index.ts';
import { oneTable, UsageError, type Command } from './context.ts';
import { indexPolicyOf } from '../db/index-maintenance.ts';
import { indexLine } from './migrate-report.ts';

const USAGE = 'usage: embedsync index status [--json] | embedsync index rebuild [--force]';

export async function indexStatus(config: Config): Promise<IndexStatus> {
  const client = createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-index' });
  await client.connect();
  try {
    await requireInstalled(client, ['state', 'vector_index']);
    const info = await inspectSource(client, config.source);
    requireSourceMigrated(info);
    return await getIndexStatus(client, info.sql, config.source.embeddingColumn, indexPolicyOf(config.source));
  } finally {
    await client.end();
  }
}

export function formatIndexStatus(s: IndexStatus): string {
  const i = s.index;
  const r = s.record;
  return [
    `policy         ${s.policy.kind} (rebuild past ${s.policy.growthFactor}x growth; ivfflat from ${s.policy.minRows} rows)`,
    `index          ${i ? `${i.name} ${i.kind}${i.lists ? ` lists ${i.lists}` : ''}` : '(none)'}` +
      `${s.invalid.length ? `; invalid leftovers: ${s.invalid.map((x) => x.name).join(', ')}` : ''}`,
    `last build     ${r ? `${r.builtAt.toISOString()} on ${r.rowsAtBuild} rows in ${r.buildSeconds.toFixed(2)}s` : '-'}`,
    `rows           ${rowsLine(s)}`,
    `next           ${s.decision.action}: ${s.decision.reason}` +
      `${s.decision.lists && (s.decision.action === 'build' || s.decision.action === 'rebuild') ? ` (lists ${s.decision.lists})` : ''}`,
    '',
  ].join('\n');
}

function rowsLine(s: IndexStatus): string {
  const r = s.rowsRange;
  if (r.basis === 'count') return `${s.rows} with vectors (counted)`;
  if (r.basis === 'unknown') return 'not counted (the policy does not depend on them)';
  if (r.basis === 'stored count' && r.lo === r.hi) return `${s.rows} with vectors (counted before, no writes since)`;
  return `~${s.rows} with vectors ` +
    `(${r.lo}-${r.hi}, from ${r.basis === 'statistics' ? "the planner's statistics" : 'the last count and the writes since'}; ` +
    'counted when a threshold falls in that range)';
}

export const indexCommand: Command = async (ctx) => {
  const [sub, ...rest] = ctx.argv;
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { json: { type: 'boolean', default: false }, force: { type: 'boolean', default: false } },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const config = oneTable(ctx.config(), 'index');
  if (sub === 'status') {
    const s = await indexStatus(config);
    ctx.stdout.write(values.json ? `${JSON.stringify(s)}\n` : formatIndexStatus(s));
    return 0;
  }
  if (sub !== 'rebuild') throw new UsageError(USAGE);
  const client = createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-index' });
  await client.connect();
  try {
    await requireInstalled(client, ['state', 'vector_index']);
    const info = await inspectSource(client, config.source);
    requireSourceMigrated(info);
    const state = await readModelState(client, info.sql.sourceKey);
    const r = await ensureIndex(client, info.sql, config.source.embeddingColumn, indexPolicyOf(config.source), {
      force: values.force, dimensions: state?.dimensions ?? info.embeddingDimensions ?? 0,
    });
    ctx.stdout.write(`${indexLine(r)}\n`);
    return 0;
  } finally {
    await client.end();
  }
};
