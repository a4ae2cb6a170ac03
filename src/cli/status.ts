// `embedsync status [--json] [--exact]`: queue, dead letters, embedding coverage and the model. Needs no
// model. The coverage of a large table is estimated from its statistics unless --exact (a full count).
import { parseArgs } from 'node:util';
import { createPool } from '../db/pool.ts';
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
    const s = await getSyncStatus(pool, config.source, { exact });
    ctx.stdout.write(json ? `${JSON.stringify(s)}\n` : formatStatus(s));
    return 0;
  } finally {
    await pool.end();
  }
};
