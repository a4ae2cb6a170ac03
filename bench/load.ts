// `npm run bench:load`: 30 minutes of traffic compressed into LOAD_SECONDS (default 180) against one
// `embedsync run` process (sync + HTTP) with the tiny model, on a throwaway cluster of its own.
//   0. calibration: a backlog of rows is drained to measure the daemon's capacity (rows/s);
//   1. first half: a writer inserts (and changes the text of) rows at a sustained rate of LOAD_FRACTION of that
//      capacity, with a burst at 3x for 3 s every 30 s (a compressed 5-minute peak);
//   2. second half: the same, with autocannon driving POST /embed (a mix of repeated and new queries) at once.
// Printed per half: insert rate, queue depth (mean/max, at the end), change→embedding lag p50/p99 from the rows'
// own timestamps (embedded_at minus the row's last change), HTTP req/s and latency; memory (RSS) of the process at start and end;
// the load average (the machine may be shared).
import autocannon from 'autocannon';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { TINY_MODEL_DIR } from '../src/model/tiny-model.ts';
import { runCli, sleep, spawnCli, startCluster, type CliProcess } from '../scripts/chaos-procs.ts';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 180);
const FRACTION = Number(process.env.LOAD_FRACTION ?? 0.6);
const CALIBRATION_ROWS = Number(process.env.LOAD_CALIBRATION_ROWS ?? 3000);

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
/** The smallest of a few samples: RSS right after a collection, not wherever the heap happens to be. */
async function settledRss(pid: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 10; i++) { xs.push(rssMb(pid)); await sleep(200); }
  return Math.min(...xs);
}
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const say = (s: string) => process.stdout.write(`${s}\n`);

const cluster = await startCluster('embedsync-load-');
let run: CliProcess | undefined;
const db = new pg.Pool({ connectionString: cluster.url, max: 4 });
try {
  say(`bench:load — ${SECONDS} s (30 minutes compressed ${(1800 / SECONDS).toFixed(0)}x), tiny model, load average at start ${load()} (${process.env.HOSTNAME ?? 'this machine'} is shared)`);
  await db.query(`CREATE TABLE leads (id bigserial PRIMARY KEY, title text, description text, city text, price numeric,
    status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  const env = {
    DATABASE_URL: cluster.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', LOG_LEVEL: 'warn',
    PORT: String(await freePort()), HOST: '127.0.0.1', RATE_LIMIT: '10000000/minute',
  };
  await runCli(['migrate'], env);
  // Logs at info, as in production, to a file.
  run = spawnCli({ name: 'run', args: ['run'], env: { ...env, LOG_LEVEL: 'info' }, logFile: join(cluster.dir, 'run.log'), readyText: '"event":"sync_started"' });
  await run.ready;
  const pid = run.child.pid!;
  const address = `http://127.0.0.1:${env.PORT}`;
  for (let i = 0; ; i++, await sleep(100)) {
    if ((await fetch(`${address}/ready`).catch(() => null))?.ok) break;
    if (i > 300) throw new Error('the HTTP API did not become ready');
  }
  const queued = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM embedsync.queue')).rows[0]!.n);
  const drain = async () => { while (await queued() > 0) await sleep(50); };

  // 0. capacity
  await db.query(`INSERT INTO leads (title, description) SELECT 'warm-up ' || g, 'row' FROM generate_series(1, 200) g`);
  await drain();
  let t0 = performance.now();
  await db.query(`INSERT INTO leads (title, description) SELECT 'Lead ' || g || ' квартира у метро', 'Description ' || g || ', balcony, ' || (g % 90) || ' m²'
                  FROM generate_series(1, $1::int) g`, [CALIBRATION_ROWS]);
  await drain();
  const capacity = CALIBRATION_ROWS / ((performance.now() - t0) / 1000);
  const rate = Math.max(1, capacity * FRACTION);
  say(`capacity: ${CALIBRATION_ROWS} rows drained at ${capacity.toFixed(0)} rows/s; sustained rate ${rate.toFixed(0)} changes/s (${(FRACTION * 100).toFixed(0)}%), 3x bursts`);
  // Warm the HTTP path too (JIT, connections, cache) before taking the starting memory figure.
  await autocannon({ url: `${address}/embed`, connections: 4, duration: 3, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'warm-up query' }) });
  const rssStart = await settledRss(pid);
  say(`memory at start: ${rssStart.toFixed(0)} MB RSS (after warming both paths)`);

  const phase = async (name: string, seconds: number, withHttp: boolean) => {
    const startedAt = new Date();
    const depth: number[] = [];
    let written = 0;
    let stop = false;
    const writer = (async () => {
      const begin = performance.now();
      let owed = 0;
      let maxId = Number((await db.query<{ m: string }>('SELECT max(id) AS m FROM leads')).rows[0]!.m);
      while (!stop) {
        const t = (performance.now() - begin) / 1000;
        const burst = t % 30 < 3 ? 3 : 1;
        owed += rate * burst * 0.1;
        const n = Math.floor(owed);
        owed -= n;
        const inserts = Math.ceil(n * 0.8);
        if (inserts > 0) {
          const r = await db.query<{ m: string }>(`INSERT INTO leads (title, description)
            SELECT 'New lead ' || g || ' ' || md5(random()::text), 'Fresh description ' || md5(random()::text) FROM generate_series(1, $1::int) g
            RETURNING id AS m`, [inserts]);
          maxId = Math.max(maxId, ...r.rows.map((x) => Number(x.m)));
        }
        if (n - inserts > 0) {
          await db.query(`UPDATE leads SET title = 'Changed ' || md5(random()::text), changed_at = clock_timestamp() WHERE id = ANY ($1::bigint[])`,
            [Array.from({ length: n - inserts }, () => 1 + Math.floor(Math.random() * maxId))]);
        }
        written += n;
        await sleep(100);
      }
    })();
    const sampler = setInterval(() => { void queued().then((q) => depth.push(q), () => undefined); }, 500);
    let http: Awaited<ReturnType<typeof autocannon>> | undefined;
    if (withHttp) {
      let i = 0;
      http = await autocannon({
        url: address, connections: 4, duration: seconds,
        requests: [{
          method: 'POST', path: '/embed', headers: { 'content-type': 'application/json' },
          // Search queries repeat: 3 of 4 come from 500 popular ones (cache hits once seen), 1 in 4 is new.
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ text: i++ % 4 ? `popular query ${i % 500}` : `new query ${i} ${Math.random()}` }) }),
        }],
      });
    } else {
      await sleep(seconds * 1000);
    }
    stop = true;
    await writer;
    clearInterval(sampler);
    const endDepth = await queued();
    t0 = performance.now();
    await drain();
    const drainS = (performance.now() - t0) / 1000;
    const lag = (await db.query<{ p50: number; p99: number; n: string }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY s) AS p99, count(*) AS n
       FROM (SELECT extract(epoch FROM embedded_at - changed_at) AS s FROM leads WHERE changed_at >= $1 AND embedded_at IS NOT NULL) x`, [startedAt])).rows[0]!;
    const mean = depth.reduce((a, b) => a + b, 0) / Math.max(1, depth.length);
    say(`${name}: ${(written / seconds).toFixed(0)} changes/s for ${seconds} s; queue depth mean ${mean.toFixed(0)}, max ${Math.max(0, ...depth)}, ` +
      `${endDepth} at the end (drained in ${drainS.toFixed(1)} s); change→embedding lag over ${lag.n} changed rows p50 ${(lag.p50 * 1000).toFixed(0)} ms, ` +
      `p99 ${(lag.p99 * 1000).toFixed(0)} ms`);
    if (http) {
      say(`  HTTP /embed under autocannon (4 connections): ${http.requests.average.toFixed(0)} req/s, latency p50 ${http.latency.p50} ms, ` +
        `p99 ${http.latency.p99} ms, ${http.non2xx} non-2xx, ${http.errors} errors`);
    }
    say(`  load average ${load()}`);
  };
  await phase('sync only', Math.round(SECONDS / 2), false);
  await phase('sync + HTTP', SECONDS - Math.round(SECONDS / 2), true);

  const rssEnd = await settledRss(pid);
  const growth = (rssEnd / rssStart - 1) * 100;
  say(`memory: ${rssStart.toFixed(0)} MB at start, ${rssEnd.toFixed(0)} MB at the end: ${growth >= 0 ? '+' : ''}${growth.toFixed(1)}% ` +
    `(${growth <= 10 ? 'within' : 'OVER'} the 10% bound)`);
  say(`load average at the end ${load()}`);
  run.child.kill('SIGTERM');
  await run.exited;
} finally {
  if (run?.alive) run.child.kill('SIGKILL');
  await db.end().catch(() => undefined);
  if (process.env.LOAD_KEEP === '1') say(`cluster kept in ${cluster.dir} (logs: ${join(cluster.dir, 'server.log')})`);
  else await cluster.stop();
}
