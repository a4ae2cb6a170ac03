// HTTP API benchmark (prints figures; not a test). The server runs in a child process so autocannon and the
// server do not share an event loop.
//  1. POST /embed answered from the cache: client-side latency, server time (onRequest → response sent, from
//     the server's request log lines; target p50 < 1 ms) and the server process CPU time per request
//     (all threads, GC included).
//  2. POST /embed/batch of uncached texts: texts/s through HTTP vs calling the encoder in-process (in the server
//     process, same batch size, same concurrency), target ≥ 90%. The two alternate over several rounds, so a
//     busy machine slows both alike.
// Model: EMBEDDING_MODEL if set, else the committed test model.
//   usage: npm run bench:http [-- --seconds 5 --batch 32 --concurrency 1 --rounds 3]
import { fork, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '5' },
    batch: { type: 'string', default: '32' },
    concurrency: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
  },
});
const SECONDS = Number(values.seconds);
const BATCH = Number(values.batch);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);

const WORDS = ('oak pine walnut table chair sofa lamp shelf desk bed mattress rug mirror cabinet drawer bench stool '
  + 'leather linen velvet cotton wool steel brass glass marble modern rustic vintage compact large small blue green '
  + 'grey black white natural handmade sturdy foldable outdoor kitchen bedroom office garden delivery warranty').split(' ');

/** A unique product-like text of 12–40 words for counter value n. */
function textFor(n: number): string {
  let seed = Math.imul(n, 2654435761) >>> 0;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const count = 12 + Math.floor(rand() * 29);
  return `item ${n}: ${Array.from({ length: count }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' ')}`;
}

type Msg =
  | { type: 'listening'; address: string }
  | { type: 'server-times'; p50: number; p99: number; count: number; cpuMsPerRequest: number }
  | { type: 'baseline'; textsPerSecond: number };

// ---------------------------------------------------------------- server process
async function serve(): Promise<void> {
  const { buildApp } = await import('../src/http/index.ts');
  const { loadConfig } = await import('../src/config/index.ts');
  const { createEncoder } = await import('../src/encoder/index.ts');
  const { createLogger } = await import('../src/log/index.ts');
  const { createMetrics } = await import('../src/metrics/index.ts');
  const { TINY_MODEL_DIR } = await import('../test/support/tiny-model-dir.ts');

  const config = loadConfig({
    ...process.env,
    EMBEDDING_MODEL: process.env.EMBEDDING_MODEL ?? TINY_MODEL_DIR,
    RATE_LIMIT: '1000000/second', RATE_LIMIT_BATCH: '1000000/second', MAX_QUEUED_REQUESTS: '1000',
    MAX_BATCH_SIZE: String(Math.max(BATCH, 128)), REDIS_URL: '',
  });
  const encoder = await createEncoder(config.model);
  let times: number[] = [];
  let cpuAtReset = process.cpuUsage();
  // Production keeps request logging on; the bench reads server time from those same lines.
  const logger = createLogger('info', {
    write(line: string) {
      const entry = JSON.parse(line) as { event?: string; duration_ms?: number };
      if (entry.event === 'request' && typeof entry.duration_ms === 'number') times.push(entry.duration_ms);
    },
  });
  const app = await buildApp({ config, encoder, metrics: createMetrics(), logger });
  await app.embedsync.ready;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const send = (m: Msg) => process.send!(m);
  process.on('message', async (m: { type: string; from?: number; requests?: number }) => {
    if (m.type === 'reset-times') {
      times = [];
      cpuAtReset = process.cpuUsage();
    }
    if (m.type === 'server-times') {
      const sorted = [...times].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
      // Process CPU time (every thread: GC, libuv, logging) per request, next to the wall-clock figures.
      const cpu = process.cpuUsage(cpuAtReset);
      send({
        type: 'server-times', p50: at(0.5), p99: at(0.99), count: sorted.length,
        cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / sorted.length,
      });
    }
    if (m.type === 'baseline') {
      // Same batches and concurrency as the HTTP run, straight into the encoder.
      let next = m.from!;
      let texts = 0;
      const deadline = performance.now() + SECONDS * 1000;
      const started = performance.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < deadline) {
          const batch = Array.from({ length: BATCH }, () => textFor(next++));
          texts += (await encoder.encode(batch, 'query')).vectors.length;
        }
      }));
      send({ type: 'baseline', textsPerSecond: texts / ((performance.now() - started) / 1000) });
    }
    if (m.type === 'stop') {
      await app.close();
      await encoder.close();
      process.exit(0);
    }
  });
  send({ type: 'listening', address: `http://127.0.0.1:${port}` });
}

// ---------------------------------------------------------------- driver
function ask<T extends Msg['type']>(child: ChildProcess, type: T, extra: object = {}): Promise<Extract<Msg, { type: T }>> {
  return new Promise((resolve) => {
    const on = (m: Msg) => {
      if (m.type === type) {
        child.off('message', on);
        resolve(m as Extract<Msg, { type: T }>);
      }
    };
    child.on('message', on);
    if (type !== 'listening') child.send({ type, ...extra });
  });
}

async function drive(): Promise<void> {
  const child = fork(new URL(import.meta.url).pathname, [
    '--serve', '--seconds', String(SECONDS), '--batch', String(BATCH), '--concurrency', String(CONCURRENCY),
  ], {
    execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const { address } = await ask(child, 'listening');
    const json = { 'content-type': 'application/json' };

    // 1. cached /embed
    const body = JSON.stringify({ text: 'cached search query about an oak dining table' });
    await fetch(`${address}/embed`, { method: 'POST', headers: json, body });
    await autocannon({ url: `${address}/embed`, method: 'POST', headers: json, body, connections: 4, duration: 1 }); // warm the JIT
    child.send({ type: 'reset-times' });
    const single = await autocannon({ url: `${address}/embed`, method: 'POST', headers: json, body, connections: 1, duration: SECONDS });
    const singleServer = await ask(child, 'server-times');
    child.send({ type: 'reset-times' });
    const loaded = await autocannon({ url: `${address}/embed`, method: 'POST', headers: json, body, connections: 10, duration: SECONDS });
    const loadedServer = await ask(child, 'server-times');
    const failed = single.non2xx + single.errors + loaded.non2xx + loaded.errors;

    // 2. uncached /embed/batch vs the encoder in-process, interleaved in rounds so drift hits both alike
    const stats = async () => (await (await fetch(`${address}/cache/stats`)).json()) as { hits: number; misses: number };
    const rounds: { http: number; direct: number }[] = [];
    let hits = 0;
    let answered = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // The same texts both ways (the baseline bypasses the cache, so the HTTP run still misses).
      const from = 1_000_000 * (round + 1);
      let n = from;
      const direct = await ask(child, 'baseline', { from });
      const before = await stats();
      const run = await autocannon({
        url: address, connections: CONCURRENCY, duration: SECONDS,
        requests: [{
          method: 'POST', path: '/embed/batch', headers: json,
          setupRequest: (req) => ({
            ...req, body: JSON.stringify({ items: Array.from({ length: BATCH }, () => ({ id: String(n), text: textFor(n++) })) }),
          }),
        }],
      });
      hits += (await stats()).hits - before.hits;
      answered += run['2xx'];
      if (run.non2xx + run.errors > 0) console.log(`WARNING: ${run.non2xx + run.errors} failed batch requests`);
      // Completed responses only: a request still in flight when the run ends is not counted.
      rounds.push({ http: (run['2xx'] * BATCH) / run.duration, direct: direct.textsPerSecond });
    }
    const httpTexts = rounds.reduce((a, r) => a + r.http, 0) / rounds.length;
    const baseline = rounds.reduce((a, r) => a + r.direct, 0) / rounds.length;

    const ms = (x: number) => `${x.toFixed(3)} ms`;
    console.log(`bench:http  model ${process.env.EMBEDDING_MODEL ?? 'tiny test model'}, ${SECONDS} s per run`);
    console.log(`/embed cached, 1 connection : ${single.requests.average.toFixed(0)} req/s, ` +
      `client p50 ${ms(single.latency.p50)} p99 ${ms(single.latency.p99)}, ` +
      `server p50 ${ms(singleServer.p50)} p99 ${ms(singleServer.p99)} (target p50 < 1 ms), ` +
      `process CPU (all threads) ${ms(singleServer.cpuMsPerRequest)}/request`);
    console.log(`/embed cached, 10 connections: ${loaded.requests.average.toFixed(0)} req/s, ` +
      `client p50 ${ms(loaded.latency.p50)} p99 ${ms(loaded.latency.p99)}, ` +
      `server p50 ${ms(loadedServer.p50)} p99 ${ms(loadedServer.p99)}, process CPU ${ms(loadedServer.cpuMsPerRequest)}/request`);
    console.log(`/embed/batch uncached (${BATCH} texts, ${CONCURRENCY} in flight): ${httpTexts.toFixed(0)} texts/s over HTTP ` +
      `vs ${baseline.toFixed(0)} texts/s in-process = ${((httpTexts / baseline) * 100).toFixed(1)}% (target >= 90%)`);
    console.log(`  rounds (HTTP/in-process texts/s): ${rounds.map((r) => `${r.http.toFixed(0)}/${r.direct.toFixed(0)}`).join(', ')}; ` +
      `${answered} batches answered, ${hits} cache hits`);
    if (failed > 0) console.log(`WARNING: ${failed} failed /embed requests`);
  } finally {
    child.send({ type: 'stop' });
  }
}

await (values.serve ? serve() : drive());
