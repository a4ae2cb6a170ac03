// One sync daemon of bench:scale in its own process (so each daemon's memory is its own): the constant-time
// clustered encoder, or with EMBEDDING_BACKEND set the configured remote encoder; settings from the environment.
// Prints one JSON line of memory every second; exits 0 after a clean stop on SIGTERM.
//   usage: node --expose-gc --import tsx bench/scale-daemon.ts DATABASE_URL DIMENSIONS OWNER
import { loadConfig } from '../src/config/index.ts';
import { createClient, createPool } from '../src/db/pool.ts';
import { createEncoder } from '../src/encoder/index.ts';
import { createLogger } from '../src/log/index.ts';
import { startSyncDaemon } from '../src/sync/daemon.ts';
import { scaleEncoder } from './scale-vectors.ts';

const [url, dims, owner] = process.argv.slice(2) as [string, string, string];
const config = loadConfig({ ...process.env, DATABASE_URL: url });
const encoder = config.model.backend === 'local' ? scaleEncoder(Number(dims)) : await createEncoder(config.model);
const pool = createPool({ databaseUrl: url, max: config.sync.workers + 3, applicationName: `embedsync-${owner}` });
const daemon = await startSyncDaemon({
  pool, encoder, source: config.source, sync: config.sync, logger: createLogger('warn'), owner,
  connectListener: () => createClient({ databaseUrl: url, applicationName: `embedsync-${owner}-listen` }),
});
const gc = (globalThis as { gc?: () => void }).gc;
const report = setInterval(() => {
  // RSS after a full collection: what the daemon keeps, not what the heap has not collected yet.
  gc?.();
  const m = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ t: Date.now(), rss: m.rss, heap: m.heapUsed })}\n`);
}, 1000);
process.once('SIGTERM', () => {
  clearInterval(report);
  void daemon.stop().then(() => encoder.close()).then(() => pool.end()).then(() => process.exit(0));
});
process.stdout.write('ready\n');
