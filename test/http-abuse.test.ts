// Abuse over a real socket on 127.0.0.1, with bounded loops: oversized bodies (the 413 is read by a client still
// sending), bodies that trickle in, deep nesting, a full queue, one deadline for a chunked OpenAI request, and
// probes that never wait behind encoding.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { startHttpServer, type HttpServer } from '../src/http/index.ts';
import { createLogger } from '../src/log/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import type { Env } from '../src/config/index.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { assertContract, recordResponses } from './helpers/contract.ts';
import { closeTestApps, post, slowEncoder, testConfig, tinyEncoder, trackedApp } from './helpers/http-app.ts';
import { waitFor } from './helpers/sync.ts';

const servers: HttpServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await closeTestApps();
});

async function start(env: Env = {}, encoder?: Encoder): Promise<HttpServer> {
  const config = testConfig({ RATE_LIMIT: '10000/second', RATE_LIMIT_BATCH: '10000/second', ...env });
  const server = await startHttpServer({
    config, encoder: encoder ?? tinyEncoder(), metrics: createMetrics({ defaultMetrics: false }), logger: createLogger('silent'),
  });
  servers.push(server);
  recordResponses(server.app, undefined);
  await server.app.embedsync.ready;
  return server;
}

interface RawAnswer { status: number; headers: string; body: string; ms: number; closed: boolean; writeError?: string }

/** Sends the head, then `body` in `chunk`-byte pieces every `everyMs`, while reading the answer. */
function raw(server: HttpServer, path: string, head: Record<string, string | number>, body: Buffer, chunk = 65_536, everyMs = 0,
  maxMs = 10_000): Promise<RawAnswer> {
  const { port } = new URL(server.address);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket: Socket = connect(Number(port), '127.0.0.1');
    let data = '';
    let writeError: string | undefined;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      const [h = '', b = ''] = data.split('\r\n\r\n', 2);
      socket.destroy();
      resolve({
        status: Number(/^HTTP\/1\.1 (\d+)/.exec(h)?.[1] ?? 0), headers: h, body: b, ms: Date.now() - started, closed,
        ...(writeError ? { writeError } : {}),
      });
    };
    const guard = setTimeout(() => finish(false), maxMs);
    socket.on('data', (d) => {
      data += d.toString('utf8');
      const [h, b] = data.split('\r\n\r\n', 2);
      const length = Number(/content-length: (\d+)/i.exec(h ?? '')?.[1] ?? -1);
      if (b !== undefined && length >= 0 && Buffer.byteLength(b) >= length) setTimeout(() => finish(socket.readableEnded), 20);
    });
    socket.on('end', () => finish(true));
    socket.on('error', (err) => { writeError = err.message; });
    socket.on('close', () => finish(true));
    socket.on('connect', async () => {
      const lines = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Content-Type: application/json',
        ...Object.entries(head).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      for (let i = 0; i < body.length && !done && !socket.destroyed; i += chunk) {
        socket.write(body.subarray(i, i + chunk));
        if (everyMs > 0) await new Promise((r) => setTimeout(r, everyMs));
        else await new Promise((r) => setImmediate(r));
      }
    });
  });
}

test('a body over the route limit: the client still sending reads the 413 (20 of 20), by socket and by fetch', async () => {
  const server = await start({ MAX_TEXT_LENGTH: '10000' });
  const body = Buffer.from(JSON.stringify({ text: 'x', padding: 'p'.repeat(7_000_000) }));
  for (let i = 0; i < 20; i++) {
    const r = await raw(server, '/embed', { 'Content-Length': body.length }, body);
    assert.equal(r.status, 413, `try ${i}: ${r.headers} ${r.writeError ?? ''}`);
    assert.match(JSON.parse(r.body).detail, /^request body is larger than 124096 bytes \(one text of MAX_TEXT_LENGTH/);
  }
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${server.address}/embed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 413);
    assert.match(((await res.json()) as { detail: string }).detail, /124096 bytes/);
  }
  // Chunked (no Content-Length): counted as it arrives, drained the same way.
  const chunked = await fetch(`${server.address}/embed`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, duplex: 'half',
    body: new ReadableStream({ start(c) { for (let i = 0; i < 40; i++) c.enqueue(new Uint8Array(65_536).fill(0x20)); c.close(); } }),
  } as RequestInit);
  assert.equal(chunked.status, 413);
  // Over the drain bound (BODY_LIMIT_BYTES): answered at once from the head, and the connection is closed.
  const limit = testConfig({ MAX_TEXT_LENGTH: '10000' }).http.bodyLimitBytes;
  const huge = await raw(server, '/embed/batch', { 'Content-Length': limit + 1 }, Buffer.alloc(0));
  assert.equal(huge.status, 413);
  assert.ok(huge.closed && huge.ms < 1000);
});

test('a body that trickles in is answered 408 at BODY_TIMEOUT_SECONDS and the connection closed', async () => {
  const server = await start({ BODY_TIMEOUT_SECONDS: '0.5' });
  const body = Buffer.from(JSON.stringify({ text: 'slowly, one byte at a time' }));
  const r = await raw(server, '/embed', { 'Content-Length': body.length }, body, 1, 100, 5000);
  assert.equal(r.status, 408, r.headers);
  assert.ok(r.ms >= 450 && r.ms < 1500, `answered after ${r.ms} ms`);
  assert.match(JSON.parse(r.body).detail, /BODY_TIMEOUT_SECONDS \(0\.5 s\)/);
  assert.ok(r.closed, 'connection closed');
  // A whole body in time is unaffected.
  assert.equal((await raw(server, '/embed', { 'Content-Length': body.length }, body, 4, 10, 5000)).status, 200);
});

test('deep nesting is refused before parsing: 7.6 MB of brackets costs a scan, not a parse', async () => {
  const server = await start();
  const nested = Buffer.from(`${'['.repeat(3_800_000)}${']'.repeat(3_800_000)}`);
  const started = performance.now();
  const r = await raw(server, '/embed/batch', { 'Content-Length': nested.length }, nested);
  const ms = performance.now() - started;
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.body).detail, 'request body nests JSON deeper than 16 levels');
  const health = performance.now();
  assert.equal((await fetch(`${server.address}/health`)).status, 200);
  assert.ok(performance.now() - health < 200);
  console.log(`# 7.6 MB nested body answered in ${Math.round(ms)} ms`);
});

test('a full queue: a large body is refused at once, unread, with Retry-After; the client reads it', async () => {
  const slow = slowEncoder(await tinyEncoder(), 1500);
  const server = await start({ MAX_CONCURRENT_REQUESTS: '1', MAX_QUEUED_REQUESTS: '0', ENCODE_TIMEOUT_SECONDS: '5' }, slow);
  const busy = fetch(`${server.address}/embed`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'occupies the slot' }),
  });
  while (server.app.embedsync.limiter.running < 1) await new Promise((r) => setTimeout(r, 5));
  const items = Array.from({ length: 100 }, (_, i) => ({ id: `${i}`, text: `item ${i} ${'w'.repeat(900)}` }));
  const body = Buffer.from(JSON.stringify({ items }));
  const r = await raw(server, '/embed/batch', { 'Content-Length': body.length }, body);
  assert.equal(r.status, 503);
  assert.ok(r.ms < 500, `refused after ${r.ms} ms`);
  assert.match(r.headers, /retry-after: \d+/i);
  assert.match(JSON.parse(r.body).detail, /MAX_CONCURRENT_REQUESTS/);
  const health = performance.now();
  assert.equal((await fetch(`${server.address}/health`)).status, 200);
  assert.ok(performance.now() - health < 200, '/health answers while the only slot encodes');
  assert.equal((await busy).status, 200);
});

test('a chunked OpenAI request shares one ENCODE_TIMEOUT_SECONDS deadline across its chunks', async () => {
  const slow = slowEncoder(await tinyEncoder(), 250);
  const t = await trackedApp({ encoder: slow, env: { MAX_BATCH_SIZE: '2', ENCODE_TIMEOUT_SECONDS: '0.4' } });
  const started = Date.now();
  const res = await post(t, '/v1/embeddings', { input: ['a1', 'a2', 'b1', 'b2', 'c1', 'c2'] });
  const ms = Date.now() - started;
  assert.equal(res.statusCode, 503);
  assert.match(res.json().error.message, /ENCODE_TIMEOUT_SECONDS/);
  assert.ok(ms >= 380 && ms < 600, `timed out after ${ms} ms (three chunks would take 750)`);
});

test('/health and /ready answer quickly while the real encoder is saturated with batches', async () => {
  const server = await start({ MAX_CONCURRENT_REQUESTS: '2', MAX_QUEUED_REQUESTS: '100' });
  const batch = (k: number) => fetch(`${server.address}/embed/batch`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      items: Array.from({ length: 128 }, (_, i) => ({ id: `${i}`, text: `load ${k} text ${i} about assorted furniture and lamps` })),
    }),
  });
  const load = Array.from({ length: 12 }, (_, k) => batch(k));
  const latencies: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const [h, r] = await Promise.all([fetch(`${server.address}/health`), fetch(`${server.address}/ready`)]);
    latencies.push(performance.now() - t0);
    assert.deepEqual([h.status, r.status], [200, 200]);
    await new Promise((r) => setTimeout(r, 25));
  }
  const statuses = (await Promise.all(load)).map((r) => r.status);
  assert.ok(statuses.every((s) => s === 200), statuses.join(','));
  const max = Math.max(...latencies);
  console.log(`# probes under load: max ${Math.round(max)} ms, median ${Math.round(latencies.sort((a, b) => a - b)[10]!)} ms`);
  assert.ok(max < 1000, `probe took ${max} ms`);
});

test('every response above matches /openapi.json', async () => {
  await assertContract();
});

test('shutdown: a request in flight is answered, with its keep-alive connection closed, ' +
  'so close() does not wait for the client', async () => {
  const slow = slowEncoder(await tinyEncoder(), 500);
  const server = await start({}, slow);
  const warmUps = slow.calls;
  const { port } = new URL(server.address);
  const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
  const answer = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: Number(port), path: '/embed', method: 'POST', agent, headers: { 'content-type': 'application/json' },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ text: 'oak table' }));
  });
  await waitFor('the request being encoded', async () => slow.calls > warmUps, 5000, 5);
  const started = performance.now();
  const closed = server.close();
  const r = await answer;
  await closed;
  const ms = performance.now() - started;
  agent.destroy();
  assert.equal(r.status, 200);
  assert.equal(r.connection, 'close');
  assert.ok(ms < 3000, `close() took ${ms.toFixed(0)} ms with a keep-alive client`);
});
