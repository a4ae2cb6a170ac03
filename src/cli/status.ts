// `embedsync status [--json]`: queue, dead letters, embedding coverage and the model. Needs no model.
import { parseArgs } from 'node:util';
import { createPool } from '../db/pool.ts';
import { formatStatus, getSyncStatus } from '../sync/status.ts';
import { UsageError, type Command } from './context.ts';

export const statusCommand: Command = async (ctx) => {
  let json: boolean;
  try {
    json = parseArgs({ args: [...ctx.argv], options: { json: { type: 'boolean', default: false } } }).values.json;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: embedsync status [--json]`);
  }
  const config = ctx.config();
  const pool = createPool({ databaseUrl: config.databaseUrl, max: 1, applicationName: 'embedsync-status' });
  try {
    const s = await getSyncStatus(pool, config.source);
    ctx.stdout.write(json ? `${JSON.stringify(s)}\n` : formatStatus(s));
    return 0;
  } finally {
    await pool.end();
  }
};
