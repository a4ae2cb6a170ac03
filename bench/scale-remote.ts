// bench:scale, last phase: the backfill through the remote backend. A second embedsync (`run --no-sync`, the
// tiny test model, on a free local port) serves /embed/batch; daemons with EMBEDDING_BACKEND=embedsync sync
// their own table against it. That model makes 64-dimension vectors, so the phase has its own table
// (`leads_remote`, vector(64)) migrated for the remote's checksum; `leads` and its 128-dim column are untouched.
import { spawn, type ChildProcess } from 'node:child_process';
import type pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { migrate } from '../src/migration/migrate.ts';
import { createEncoder } from '../src/encoder/index.ts';
import { freePort } from '../scripts/free-port.ts';

export const REMOTE_MODEL = 'test/fixtures/models/tiny-roberta';

interface DaemonLike { readonly child: ChildProcess }
export interface RemotePhaseOptions<D extends DaemonLike> {
  readonly db: pg.Pool;
  readonly url: string;
  readonly rows: number;
  readonly phaseSeconds: number;
  readonly daemonEnv: Record<string, string>;
  readonly startDaemon: (owner: string, env: Record<string, string>) => Promise<D>;
  readonly stopDaemon: (d: D) => Promise<void>;
  readonly log: (s: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });


/** The second embedsync: HTTP only, the test model, rate limits out of the way of the daemons. */
async function startRemote(url: string): Promise<{ child: ChildProcess; endpoint: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/embedsync.js', 'run', '--no-sync'], {
    env: { ...process.env, DATABASE_URL: url, EMBEDDING_MODEL: REMOTE_MODEL, HOST: '127.0.0.1', PORT: String(port),
      RATE_LIMIT: '1000000/minute', RATE_LIMIT_BATCH: '1000000/minute', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`remote embedsync exited ${child.exitCode}: ${stderr.slice(-2000)}`);
    if (await fetch(`${endpoint}/ready`).then((r) => r.ok, () => false)) return { child, endpoint };
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`remote embedsync not ready in 60 s: ${stderr.slice(-2000)}`); }
    await sleep(200);
  }
}

/** Backfill rows/s through the remote backend with 1 and 2 daemons, each for at most phaseSeconds. */
export async function remotePhase<D extends DaemonLike>(o: RemotePhaseOptions<D>): Promise<string[]> {
  const remote = await startRemote(o.url);
  const daemons: D[] = [];
  try {
    await o.db.query(`CREATE TABLE leads_remote (id bigserial PRIMARY KEY, title text, description text)`);
    await o.db.query(`INSERT INTO leads_remote (title, description)
      SELECT 'Квартира ' || g, 'Описание объекта номер ' || g || ', две комнаты, ремонт, этаж ' || (g % 17)
      FROM generate_series(1, $1::int) g`, [o.rows]);
    await o.db.query('VACUUM ANALYZE leads_remote');
    const env = { ...o.daemonEnv, EMBEDSYNC_TABLE: 'leads_remote', EMBEDDING_BACKEND: 'embedsync', EMBEDDING_ENDPOINT: remote.endpoint };
    const config = loadConfig({ ...env, DATABASE_URL: o.url });
    const probe = await createEncoder(config.model);
    const info = probe.info;
    await probe.close();
    const m = await migrate({ config, model: info });
    o.log(`\n5. backfill through the remote backend: a second embedsync (\`run --no-sync\`, ${REMOTE_MODEL}, ${info.dimensions}-dim) ` +
      `on ${fmt(m.enqueued)} rows of their own table; ` +
      `daemons with EMBEDDING_BACKEND=embedsync, EMBEDDING_CONCURRENCY ${config.model.concurrency}`);
    const embedded = async () => (await o.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM leads_remote WHERE model_checksum = $1', [info.checksum])).rows[0]!.n;
    const rates: string[] = [];
    for (const n of [1, 2]) {
      while (daemons.length < n) daemons.push(await o.startDaemon(`r${daemons.length + 1}`, env));
      const before = await embedded();
      if (before >= o.rows) break;
      const t = performance.now();
      while (performance.now() - t < o.phaseSeconds * 1000 && (await embedded()) < o.rows) await sleep(1000);
      const secs = (performance.now() - t) / 1000;
      const done = (await embedded()) - before;
      rates.push(`${n}: ${fmt(done / secs)}`);
      o.log(`   ${n} daemon${n > 1 ? 's' : ' '}: ${fmt(done)} rows in ${secs.toFixed(1)} s = ${fmt(done / secs)} rows/s`);
    }
    return rates;
  } finally {
    for (const d of daemons) await o.stopDaemon(d).catch(() => d.child.kill('SIGKILL'));
    const exited = new Promise((r) => remote.child.once('exit', r));
    remote.child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (remote.child.exitCode === null) remote.child.kill('SIGKILL');
  }
}
