// `npm run bench:load`: 30 minutes of traffic compressed into LOAD_SECONDS (default 180) against one
// `embedsync run` process (sync + HTTP) with the tiny model, on a throwaway cluster of its own. Two phases of
// equal length, sync alone, then sync with autocannon driving POST /embed (4 connections, a mix of repeated and new
// queries) all through the phase. Each phase:
//   1. capacity: a backlog is drained, for an upper bound on the change rate;
//   2. search: short trials at a steady change rate (inserts, and text updates of existing rows), bisecting for the
//      highest rate at which the queue stays bounded (its low points stop rising and stay under 1.5 s of changes);
//   3. sustained: the rest of the phase at that rate.
// Printed per phase: the sustainable rate, the queue depth (mean/max/end), change→embedding lag p50/p99 from the
// rows' own timestamps (embedded_at minus the row's last change), HTTP req/s and latency, how the encoder's time
// split between sync and HTTP; memory (see below); the load average (the machine may be shared).
// It prints figures; it does not fail on targets.
// Memory: the V8 heap grows between collections and is given back after some of them (by ~60 MB on the tiny
// model under this load, a cycle every 30-60 s), so two single RSS readings can differ by 25% with nothing
// leaking. The figures compared are RSS after a full collection (requested through the daemon's inspector, on
// 127.0.0.1 for this run only), taken after the warm-up, at a third and two thirds of the run and at the end:
// start against end for the 10% bound, two thirds against the end for whether it has levelled off. RSS is also
// sampled every second for its max, and for what lives outside the V8 heap (ONNX Runtime, malloc, buffers, the
// cache's vectors: RSS minus the heap), which does not follow the collections.
import autocannon from 'autocannon';
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { WebSocket } from 'undici';
import { TINY_MODEL_DIR } from '../test/support/tiny-model-dir.ts';
import { runCli, sleep, spawnCli, startCluster, type CliProcess } from '../scripts/chaos-procs.ts';
import { freePort } from '../scripts/free-port.ts';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 180);
const SUSTAINED_SHARE = 0.9;
const CALIBRATION_ROWS = Number(process.env.LOAD_CALIBRATION_ROWS ?? 2000);
const BATCH_SIZE = 128;
const CONNECTIONS = 4;

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
/** One reading: RSS from /proc and the V8 heap (nodejs_heap_size_total_bytes from the daemon), in MB. */
interface MemorySample { readonly at: number; readonly rss: number; readonly heap: number }
/** Full collections in the daemon through its inspector (Chrome DevTools protocol); close before stopping it. */
async function connectInspector(port: number): Promise<{ collect: () => Promise<void>; close: () => void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let id = 0;
  const collect = () => new Promise<void>((resolve) => {
    const mine = ++id;
    ws.onmessage = (e) => { if ((JSON.parse(String(e.data)) as { id?: number }).id === mine) resolve(); };
    ws.send(JSON.stringify({ id: mine, method: 'HeapProfiler.collectGarbage' }));
  });
  // A process with a debugger attached waits for it to go before exiting.
  return { collect, close: () => ws.close() };
}
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const say = (s: string) => process.stdout.write(`${s}\n`);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

const cluster = await startCluster('embedsync-load-');
let run: CliProcess | undefined;
const db = new pg.Pool({ connectionString: cluster.url, max: 4 });
try {
  say(`bench:load — ${SECONDS} s (30 minutes compressed ${(1800 / SECONDS).toFixed(0)}x), tiny model, load average at start ${load()} ` +
    `(${process.env.HOSTNAME ?? 'this machine'} is shared)`);
  await db.query(`CREATE TABLE leads (id bigserial PRIMARY KEY, title text, description text, city text, price numeric,
    status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  const env = {
    DATABASE_URL: cluster.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', LOG_LEVEL: 'warn',
    PORT: String(await freePort()), HOST: '127.0.0.1', RATE_LIMIT: '10000000/minute', EMBEDSYNC_BATCH_SIZE: String(BATCH_SIZE),
  };
  await runCli(['migrate'], env);
  // Logs at info, as in production, to a file; EMBEDSYNC_SYNC_SHARE and the rest come from the environment.
  const inspectPort = await freePort();
  run = spawnCli({
    name: 'run', args: ['run'], logFile: join(cluster.dir, 'run.log'), readyText: '"event":"sync_started"',
    env: { ...env, LOG_LEVEL: 'info', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --inspect=127.0.0.1:${inspectPort}` },
  });
  await run.ready;
  const pid = run.child.pid!;
  const inspector = await connectInspector(inspectPort);
  const address = `http://127.0.0.1:${env.PORT}`;
  for (let i = 0; ; i++, await sleep(100)) {
    if ((await fetch(`${address}/ready`).catch(() => null))?.ok) break;
    if (i > 300) throw new Error('the HTTP API did not become ready');
  }
  const queued = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM embedsync.queue')).rows[0]!.n);
  const drain = async () => { while (await queued() > 0) await sleep(50); };
  /** Encoder seconds by source so far, from /metrics. */
  const encoderSeconds = async () => {
    const text = await (await fetch(`${address}/metrics`)).text();
    const value = (source: string) =>
      Number(new RegExp(`^embedsync_encoder_busy_seconds_total\\{source="${source}"\\} (\\S+)`, 'm').exec(text)?.[1] ?? 0);
    return { sync: value('sync'), http: value('http') };
  };

  // Search queries repeat: 3 of 4 come from 500 popular ones (cache hits once seen), 1 in 4 is new.
  let q = 0;
  const httpLoad = (seconds: number) => autocannon({
    url: address, connections: CONNECTIONS, duration: seconds,
    requests: [{
      method: 'POST', path: '/embed', headers: { 'content-type': 'application/json' },
      setupRequest: (req) => ({
        ...req, body: JSON.stringify({ text: q++ % 4 ? `popular query ${q % 500}` : `new query ${q} ${Math.random()}` }),
      }),
    }],
  });

  /** Changes (80% inserts, 20% text updates of existing rows) at `rate` per second until stopped. */
  const startWriter = (rate: number) => {
    let stop = false;
    let written = 0;
    const done = (async () => {
      let maxId = Number((await db.query<{ m: string | null }>('SELECT max(id) AS m FROM leads')).rows[0]!.m ?? 1);
      let owed = 0;
      let last = performance.now();
      while (!stop) {
        const now = performance.now();
        owed += rate * (now - last) / 1000; // by the clock, so a slow statement does not lower the rate
        last = now;
        const n = Math.floor(owed);
        owed -= n;
        const inserts = Math.ceil(n * 0.8);
        if (inserts > 0) {
          const r = await db.query<{ m: string }>(`INSERT INTO leads (title, description)
            SELECT 'New lead ' || g || ' ' || md5(random()::text), 'Fresh description ' || md5(random()::text)
            FROM generate_series(1, $1::int) g
            RETURNING id AS m`, [inserts]);
          maxId = Math.max(maxId, ...r.rows.map((x) => Number(x.m)));
        }
        if (n - inserts > 0) {
          await db.query('UPDATE leads SET title = \'Changed \' || md5(random()::text), changed_at = clock_timestamp() ' +
            'WHERE id = ANY ($1::bigint[])',
            [Array.from({ length: n - inserts }, () => 1 + Math.floor(Math.random() * maxId))]);
        }
        written += n;
        await sleep(100);
      }
    })();
    return { stop: async () => { stop = true; await done; return written; } };
  };

  /**
   * One trial: `seconds` at `rate`. The queue saw-tooths as batches are claimed, so its low points tell the trend:
   * bounded when the lowest depth of the last third is no higher than that of the middle third (give or take
   * a quarter of a batch, or 2% of the changes meanwhile) and under 1.5 s worth of changes. Short trials flatter
   * a rate a little; the sustained part shows whether it holds.
   */
  const trial = async (rate: number, seconds: number) => {
    await drain();
    const writer = startWriter(rate);
    const samples: { at: number; depth: number }[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      samples.push({ at: (performance.now() - t0) / 1000, depth: await queued() });
      await sleep(200);
    }
    await writer.stop();
    const low = (from: number, to: number) =>
      Math.min(...samples.filter((x) => x.at >= from * seconds && x.at < to * seconds).map((x) => x.depth));
    const [middle, last] = [low(1 / 3, 2 / 3), low(2 / 3, 1)];
    const ok = last - middle <= Math.max(BATCH_SIZE / 4, 0.02 * rate * seconds / 3) && last <= 1.5 * rate;
    return { rate, last, ok };
  };

  // Warm both paths (JIT, connections, cache, and the model's buffers at the batch shapes of the run) before taking
  // the starting memory figure.
  const backlog = (rows: number) => db.query(`INSERT INTO leads (title, description)
    SELECT 'Lead ' || g || ' квартира у метро', 'Description ' || g || ', balcony, ' || (g % 90) || ' m²'
    FROM generate_series(1, $1::int) g`, [rows]);
  await backlog(CALIBRATION_ROWS);
  await drain();
  // The vector index exists from here on, so every trial pays for keeping it current (the daemon's sweeps
  // rebuild it as the table doubles, as in production).
  await runCli(['index', 'rebuild'], env);
  const warm = startWriter(500);
  await httpLoad(5);
  await warm.stop();
  await drain();
  // From here on, one memory sample a second (the V8 heap from the daemon's own /metrics).
  const memory: MemorySample[] = [];
  const heapMb = async () => {
    const text = await (await fetch(`${address}/metrics`)).text();
    return Number(/^nodejs_heap_size_total_bytes (\S+)/m.exec(text)?.[1] ?? NaN) / 2 ** 20;
  };
  const cacheEntries = async () => ((await (await fetch(`${address}/cache/stats`)).json()) as { size: number; max_size: number });
  /** RSS a second after a full collection (the heap's pages are given back in the background). */
  const collectedRss = async () => { await inspector.collect(); await sleep(1000); return rssMb(pid); };
  const cacheStart = await cacheEntries();
  const collected = [await collectedRss()];
  say(`memory at start, after warming both paths and a full collection: ${collected[0]!.toFixed(0)} MB RSS, ` +
    `V8 heap ${(await heapMb()).toFixed(0)} MB of it; cache ${cacheStart.size} of ${cacheStart.max_size} entries`);
  const memoryT0 = performance.now();
  let sampling = true;
  const memorySampler = (async () => {
    while (sampling) {
      const heap = await heapMb().catch(() => NaN);
      memory.push({ at: (performance.now() - memoryT0) / 1000, rss: rssMb(pid), heap });
      await sleep(1000);
    }
  })();
  const thirds = [1, 2].map((k) => setTimeout(() => { void collectedRss().then((x) => { collected[k] = x; }); }, (k * SECONDS * 1000) / 3));

  const phase = async (name: string, seconds: number, withHttp: boolean) => {
    const phaseEnd = performance.now() + seconds * 1000;
    const searchHttp = withHttp ? httpLoad(seconds) : undefined;
    try {
      // 1. capacity: a backlog in full batches, the daemon's best case.
      await drain();
      let t0 = performance.now();
      await backlog(CALIBRATION_ROWS);
      await drain();
      const capacity = CALIBRATION_ROWS / ((performance.now() - t0) / 1000);

      // 2. search: bisect between a fifth of the backlog rate and a little over it, for half of the phase.
      const trialSeconds = Math.max(5, Math.round(seconds * 0.09));
      const searchEnd = performance.now() + seconds * 500;
      let lo = 0;
      let hi = capacity * 1.1;
      let rate = capacity * 0.6;
      const trials: string[] = [];
      while (performance.now() + trialSeconds * 1000 < searchEnd) {
        const r = await trial(rate, trialSeconds);
        trials.push(`${r.rate.toFixed(0)} ${r.ok ? 'bounded' : `growing (queue ${r.last})`}`);
        if (r.ok) lo = rate; else hi = rate;
        rate = lo > 0 ? (lo + hi) / 2 : Math.max(1, rate / 2);
      }
      // Short trials flatter a rate and the bisection stops within a step of the edge, so the sustained part
      // runs with 10% headroom below the highest bounded trial, as an operator would plan capacity.
      const sustainable = (lo > 0 ? lo : rate) * SUSTAINED_SHARE;
      say(`${name}: backlog drained at ${capacity.toFixed(0)} rows/s; ${trialSeconds} s trials (changes/s): ${trials.join(', ')}`);
      say(`  highest bounded trial: ${(lo > 0 ? lo : rate).toFixed(0)} changes/s` +
        `${lo > 0 ? '' : ' (no trial stayed bounded: the lowest rate tried)'}; ` +
        `sustained at ${(SUSTAINED_SHARE * 100).toFixed(0)}% of it, ${sustainable.toFixed(0)} changes/s; load average ${load()}`);
      searchHttp?.stop();
      const searchResult = searchHttp ? await searchHttp : undefined;

      // 3. sustained: the rest of the phase at that rate.
      await drain();
      const sustainedSeconds = Math.max(5, (phaseEnd - performance.now()) / 1000 - 3);
      const startedAt = new Date();
      const enc0 = await encoderSeconds();
      const depth: number[] = [];
      const sampler = setInterval(() => { void queued().then((d) => depth.push(d), () => undefined); }, 500);
      const http = withHttp ? httpLoad(sustainedSeconds) : undefined;
      const writer = startWriter(sustainable);
      t0 = performance.now();
      if (http) await http; else await sleep(sustainedSeconds * 1000);
      const written = await writer.stop();
      const elapsed = (performance.now() - t0) / 1000;
      clearInterval(sampler);
      const endDepth = await queued();
      const enc1 = await encoderSeconds();
      t0 = performance.now();
      await drain();
      const drainS = (performance.now() - t0) / 1000;
      const lag = (await db.query<{ p50: number; p99: number; n: string }>(
        `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY s) AS p99, count(*) AS n
         FROM (SELECT extract(epoch FROM embedded_at - changed_at) AS s FROM leads WHERE changed_at >= $1 AND embedded_at IS NOT NULL) x`,
        [startedAt])).rows[0]!;
      // Low points of the second quarter against the last (the first starts from an empty queue): a queue that
      // keeps growing lifts its low points; a passing spike (a sweep, an index rebuild) does not.
      const quarter = Math.max(1, Math.floor(depth.length / 4));
      const trend = Math.min(...depth.slice(-quarter)) - Math.min(...depth.slice(quarter, 2 * quarter));
      say(`  sustained ${elapsed.toFixed(0)} s at ${(written / elapsed).toFixed(0)} changes/s: ` +
        `queue depth mean ${mean(depth).toFixed(0)}, max ${Math.max(0, ...depth)}, ` +
        `${endDepth} at the end (drained in ${drainS.toFixed(1)} s; ` +
        `low point of the last quarter ${trend >= 0 ? '+' : ''}${trend.toFixed(0)} rows on the second: ` +
        `${trend <= BATCH_SIZE ? 'bounded' : 'GROWING'}); change→embedding lag over ${lag.n} changed rows ` +
        `p50 ${(lag.p50 * 1000).toFixed(0)} ms, p99 ${(lag.p99 * 1000).toFixed(0)} ms`);
      const [sync, httpS] = [enc1.sync - enc0.sync, enc1.http - enc0.http];
      say(`  encoder time (embedsync_encoder_busy_seconds_total): sync ${sync.toFixed(1)} s, HTTP ${httpS.toFixed(1)} s ` +
        `(sync ${(sync / Math.max(1e-9, sync + httpS) * 100).toFixed(0)}%)`);
      if (http) {
        const h = await http;
        say(`  HTTP /embed under autocannon (${CONNECTIONS} connections): ${h.requests.average.toFixed(0)} req/s, ` +
          `latency p50 ${h.latency.p50} ms, p99 ${h.latency.p99} ms, ${h.non2xx} non-2xx, ${h.errors} errors` +
          (searchResult ? ` (during the search: ${searchResult.requests.average.toFixed(0)} req/s, ` +
            `p99 ${searchResult.latency.p99} ms, ${searchResult.non2xx} non-2xx)` : ''));
      }
      say(`  load average ${load()}`);
    } finally {
      searchHttp?.stop();
    }
  };
  await phase('sync only', Math.round(SECONDS / 2), false);
  await phase('sync + HTTP', SECONDS - Math.round(SECONDS / 2), true);

  sampling = false;
  await memorySampler;
  thirds.forEach(clearTimeout);
  collected[3] = await collectedRss();
  const cacheEnd = await cacheEntries();
  const end = memory.at(-1)!.at;
  const third = (k: number) => memory.filter((m) => m.at >= (k * end) / 3 && m.at <= ((k + 1) * end) / 3);
  const outside = (xs: readonly MemorySample[]) => mean(xs.filter((m) => Number.isFinite(m.heap)).map((m) => m.rss - m.heap));
  const pct = (a: number, b: number) => { const x = (b / a - 1) * 100; return `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`; };
  const [rssStart, rssEnd] = [collected[0]!, collected[3]];
  const growth = (rssEnd / rssStart - 1) * 100;
  // Levelled off: over the last third, RSS after a collection rose under 3% (readings after a collection differ by
  // a few MB) and the memory outside the heap under 1% from the third's first half to its second (a step that
  // has levelled off, such as the cache reaching its bound, passes; a steady climb of 6% a run or more does not).
  const sixth = (k: number) => memory.filter((m) => m.at >= (k * end) / 6 && m.at <= ((k + 1) * end) / 6);
  const lastRise = collected[2] === undefined ? NaN : rssEnd / collected[2] - 1;
  const outsideRise = outside(sixth(5)) / outside(sixth(4)) - 1;
  const plateaued = lastRise <= 0.03 && outsideRise <= 0.01;
  const mb = (x: number | undefined) => (x === undefined ? '?' : x.toFixed(0));
  say(`memory (RSS after a full collection): start ${mb(rssStart)} MB, ${mb(collected[1])} at a third, ` +
    `${mb(collected[2])} at two thirds, ` +
    `end ${mb(rssEnd)} MB: ${pct(rssStart, rssEnd)} (${growth <= 10 ? 'within' : 'OVER'} the 10% bound); ` +
    `max ${Math.max(...memory.map((m) => m.rss)).toFixed(0)} MB of ${memory.length} readings a second apart ` +
    '(the V8 heap between collections)');
  say(`  last third: ${Number.isNaN(lastRise) ? '?' : pct(collected[2]!, rssEnd)} after a collection, ` +
    `outside the V8 heap ${pct(outside(sixth(4)), outside(sixth(5)))} ` +
    `between its halves (${[0, 1, 2].map((k) => outside(third(k)).toFixed(0)).join(' / ')} MB per third): ` +
    `${plateaued ? 'levelled off' : 'STILL GROWING'}; ` +
    `cache ${cacheStart.size} → ${cacheEnd.size} entries (bound ${cacheEnd.max_size})`);
  say(`load average at the end ${load()}`);
  inspector.close();
  run.child.kill('SIGTERM');
  await run.exited;
} finally {
  if (run?.alive) run.child.kill('SIGKILL');
  await db.end().catch(() => undefined);
  if (process.env.LOAD_KEEP === '1') say(`cluster kept in ${cluster.dir} (logs: ${join(cluster.dir, 'server.log')})`);
  else await cluster.stop();
}
