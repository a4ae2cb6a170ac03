// The API over a real socket on an ephemeral port, and two daemons sharing the Redis cache.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHttpServer, type HttpServer } from '../src/http/index.ts';
import { createLogger } from '../src/log/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { bits, testConfig, tinyEncoder } from './helpers/http-app.ts';
import type { Env } from '../src/config/index.ts';

const REDIS_URL = process.env.EMBEDSYNC_TEST_REDIS_URL;
const servers: HttpServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await (await tinyEncoder()).close();
});

async function start(env: Env = {}): Promise<HttpServer> {
  const server = await startHttpServer({
    config: testConfig(env),
    encoder: tinyEncoder(),
    metrics: createMetrics({ defaultMetrics: false }),
    logger: createLogger('silent'),
  });
  servers.push(server);
  await server.app.embedsync.ready;
  return server;
}

const postJson = (base: string, path: string, body: unknown) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('listens on an ephemeral port and serves the API; close() stops it', async () => {
  const server = await start({ BODY_LIMIT_BYTES: '4096' });
  assert.match(server.address, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(server.address.endsWith(':0'), true);
  const ready = await fetch(`${server.address}/ready`);
  assert.equal(ready.status, 200);
  const res = await postJson(server.address, '/embed', { text: 'over the wire' });
  assert.equal(res.status, 200);
  assert.ok(res.headers.get('x-request-id'));
  const body = await res.json() as { embedding: number[]; cached: boolean };
  const direct = (await (await tinyEncoder()).encode(['over the wire'], 'query')).vectors[0]!;
  assert.ok(bits(body.embedding).equals(bits(direct)));
  const batch = await postJson(server.address, '/embed/batch',
    { items: [{ id: 'x', text: 'over the wire' }, { id: 'y', text: 'and another' }] });
  assert.deepEqual(((await batch.json()) as { results: { cached: boolean }[] }).results.map((r) => r.cached), [true, false]);
  const tooBig = await postJson(server.address, '/embed', { text: 'q'.repeat(5000) });
  assert.equal(tooBig.status, 413);
  assert.match(((await tooBig.json()) as { detail: string }).detail, /BODY_LIMIT_BYTES/);

  await server.close();
  servers.splice(servers.indexOf(server), 1);
  await assert.rejects(fetch(`${server.address}/health`));
});

test('two daemons share cached vectors through Redis, bit for bit', {
  skip: !REDIS_URL && 'EMBEDSYNC_TEST_REDIS_URL not set',
}, async () => {
  const a = await start({ REDIS_URL: REDIS_URL! });
  const b = await start({ REDIS_URL: REDIS_URL! });
  for (const s of [a, b]) {
    // Redis connects in the background; a request before that is served without the shared level.
    while (s.app.embedsync.cache.stats().redis_status !== 'ready') await new Promise((r) => setTimeout(r, 10));
  }
  await postJson(a.address, '/cache/clear', {});
  const text = `shared across daemons ${Date.now()}`;
  const fromA = await postJson(a.address, '/embed', { text, role: 'document' });
  const bodyA = await fromA.text();
  assert.equal((JSON.parse(bodyA) as { cached: boolean }).cached, false);
  // The write to Redis completes before A answers, so B finds it.
  const fromB = await postJson(b.address, '/embed', { text, role: 'document' });
  const bodyB = await fromB.text();
  assert.equal((JSON.parse(bodyB) as { cached: boolean }).cached, true);
  assert.equal(bodyB.replace('"cached":true', '"cached":false'), bodyA, 'same bytes from the shared cache');
  const stats = await (await fetch(`${b.address}/cache/stats`)).json() as { backend: string; hits: number; redis_status: string };
  assert.equal(stats.backend, 'memory+redis');
  assert.equal(stats.hits, 1);
  assert.equal(stats.redis_status, 'ready');
});
