// `embedsync remove [TABLE] [--drop-columns] [--dry-run]`: takes embedsync off a table (triggers, generated
// functions, queue entries, dead letters, state, sweep and index records; with --drop-columns the embedding
// columns and their index). The column names are the ones migrate recorded for the table, else the configured ones.
import { parseArgs } from 'node:util';
import { parseQualifiedName, type Config, type QualifiedName, type SourceConfig } from '../config/index.ts';
import { createClient } from '../db/pool.ts';
import { readRecordedSource } from '../db/source-settings.ts';
import { sourceKeyOf } from '../db/source-sql.ts';
import { describeRemoval, removeSource, type RemovalPlan } from '../migration/remove-source.ts';
import { UsageError, type Command } from './context.ts';

export interface RemoveCommandOptions {
  readonly config: Config;
  /** The table; default the configured one (EMBEDSYNC_TABLE). */
  readonly table?: QualifiedName;
  readonly dropColumns?: boolean;
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
}

export async function remove(o: RemoveCommandOptions): Promise<RemovalPlan> {
  const client = createClient({ databaseUrl: o.config.databaseUrl, applicationName: 'embedsync-migrate' });
  await client.connect();
  try {
    const configured: SourceConfig = o.table ? { ...o.config.source, table: o.table } : o.config.source;
    const recorded = await readRecordedSource(client, sourceKeyOf(configured));
    return await removeSource(client, recorded?.source ?? configured, {
      dropColumns: o.dropColumns ?? false, dryRun: o.dryRun ?? false, ...(o.signal ? { signal: o.signal } : {}),
    });
  } finally {
    await client.end();
  }
}

const USAGE = 'usage: embedsync remove [TABLE] [--drop-columns] [--dry-run]';

export const removeCommand: Command = async (ctx) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...ctx.argv], allowPositionals: true,
      options: { 'drop-columns': { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false } },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  if (parsed.positionals.length > 1) throw new UsageError(`one table at a time\n${USAGE}`);
  const config = ctx.config();
  let table: QualifiedName | undefined;
  if (parsed.positionals[0] !== undefined) {
    const p = parseQualifiedName(parsed.positionals[0]);
    if (p.problem) throw new UsageError(`table ${JSON.stringify(parsed.positionals[0])} ${p.problem}\n${USAGE}`);
    table = p.value;
  } else if (config.tables.kind !== 'one') {
    throw new UsageError(`EMBEDSYNC_TABLE names several tables: name the one to remove\n${USAGE}`);
  }
  const dryRun = parsed.values['dry-run'];
  const plan = await remove({
    config, ...(table ? { table } : {}), dropColumns: parsed.values['drop-columns'], dryRun, signal: ctx.signal,
  });
  ctx.stdout.write(`${describeRemoval(plan, dryRun).join('\n')}\n`);
  return 0;
};
