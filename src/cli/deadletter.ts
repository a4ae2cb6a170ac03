// `embedsync deadletter list [--json] [--limit N]` and `deadletter retry (--all | ID...)`.
import { parseArgs } from 'node:util';
import { createPool } from '../db/pool.ts';
import { requireInstalled } from '../db/installed.ts';
import { sourceKeyOf } from '../db/source-sql.ts';
import { listDeadLetters, retryDeadLetters } from '../queue/deadletter.ts';
import { oneTable, UsageError, type Command } from './context.ts';

const USAGE = 'usage: embedsync deadletter list [--json] [--limit N] | deadletter retry (--all | ID...)';

export const deadletterCommand: Command = async (ctx) => {
  const [sub, ...argv] = ctx.argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: sub === 'retry',
      options: sub === 'retry'
        ? { all: { type: 'boolean', default: false } }
        : { json: { type: 'boolean', default: false }, limit: { type: 'string', default: '100' } },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  if (sub !== 'list' && sub !== 'retry') throw new UsageError(USAGE);
  const v = parsed.values as { json?: boolean; limit?: string; all?: boolean };
  if (sub === 'retry' && !v.all && parsed.positionals.length === 0) throw new UsageError(`name the ids to retry, or --all\n${USAGE}`);
  const limit = Number(v.limit ?? 100);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer\n${USAGE}`);

  const config = oneTable(ctx.config(), 'deadletter');
  // Dead letters of the configured table (EMBEDSYNC_TABLE) only.
  const sourceKey = sourceKeyOf(config.source);
  const pool = createPool({ databaseUrl: config.databaseUrl, max: 1, applicationName: 'embedsync-deadletter' });
  try {
    await requireInstalled(pool, ['queue', 'deadletter']);
    if (sub === 'retry') {
      const n = await retryDeadLetters(pool, sourceKey, v.all ? undefined : parsed.positionals);
      ctx.stdout.write(`${n} row${n === 1 ? '' : 's'} moved back to the queue\n`);
      return 0;
    }
    const rows = await listDeadLetters(pool, sourceKey, limit);
    if (v.json) ctx.stdout.write(`${JSON.stringify(rows)}\n`);
    else if (rows.length === 0) ctx.stdout.write('no dead letters\n');
    else {
      for (const r of rows) {
        ctx.stdout.write(`${r.id}\t${r.attempts} attempts\tfailed ${r.failedAt.toISOString()}\t` +
          `${(r.lastError ?? '').replace(/\s+/g, ' ')}\n`);
      }
    }
    return 0;
  } finally {
    await pool.end();
  }
};
