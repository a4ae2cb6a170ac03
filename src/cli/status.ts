// `embedsync status [--json] [--exact]`: queue, dead letters, embedding coverage and the model, of the configured
// table or, with EMBEDSYNC_TABLE a list or *, of each table served. Needs no model. The coverage of a large table is estimated from its statistics unless --exact (a full count).
import { parseArgs } from 'node:util';
import { createPool } from '../db/pool.ts';
import { selectedSources } from '../db/source-settings.ts';
import { formatStatus, getSyncStatus } from '../sync/status.ts';
import { UsageError, type Command } from './context.ts';

export const statusCommand: Command = async (ctx) => {
  let json: boolean, exact: boolean;
  try {
    ({ json, exact } = parseArgs({ args: [...ctx.argv], options: { json: { type: 'boolean', default: false }, exact: { type: 'boolean', default: false } } }).values);
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
      ctx.stdout.write(tables.length ? tables.map(formatStatus).join('\n') : 'no table migrated yet: run `embedsync migrate` for each table\n');
      for (const k of unrecorded) ctx.stdout.write(`\n${k}: not migrated (no settings recorded): run \`EMBEDSYNC_TABLE=${k} embedsync migrate\`\n`);
    }
    return 0;
  } finally {
    await pool.end();
  }
};
