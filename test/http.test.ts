// Happy paths of every route, cache flags and bit-identity, OpenAI and TEI shapes, readiness and docs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertContract } from './helpers/contract.ts';
import { bits, deferred, closeTestApps, tinyEncoder, post, trackedApp } from './helpers/http-app.ts';
import type { Encoder } from '../src/encoder/types.ts';

const app = trackedApp;
after(closeTestApps);


test('POST /embed: the old fields, query role by default, cached on repeat and bit-identical', async () => {
  const t = await app();
  const encoder = await tinyEncoder();
  const first = await post(t, '/embed', { text: 'red running shoes' });
  assert.equal(first.statusCode, 200);
  const a = first.json();
  assert.deepEqual(Object.keys(a).sort(), ['cached', 'dimensions', 'embedding', 'model_checksum', 'model_version']);
  assert.equal(a.cached, false);
  assert.equal(a.dimensions, encoder.info.dimensions);
  assert.equal(a.embedding.length, encoder.info.dimensions);
  assert.equal(a.model_checksum, encoder.info.checksum);
  assert.equal(a.model_version, encoder.info.version);
  const direct = (await encoder.encode(['red running shoes'], 'query')).vectors[0]!;
  assert.ok(bits(a.embedding).equals(bits(direct)), 'the API returns exactly the encoder\'s float32 values');

  const second = await post(t, '/embed', { text: 'red running shoes' });
  assert.equal(second.json().cached, true);
  assert.equal(second.body.replace('"cached":true', '"cached":false'), first.body, 'cached answer is byte-identical');

  const doc = (await post(t, '/embed', { text: 'red running shoes', role: 'document' })).json();
  assert.equal(doc.cached, false, 'the role is part of the cache key');
  const directDoc = (await encoder.encode(['red running shoes'], 'document')).vectors[0]!;
  assert.ok(bits(doc.embedding).equals(bits(directDoc)));
  assert.ok(!bits(doc.embedding).equals(bits(direct)), 'document prompt differs from query prompt');
});

test('POST /embed/batch: only misses are encoded, in one call; per-item failures do not fail the batch', async () => {
  const real = await tinyEncoder();
  const calls: number[] = [];
  const counting: Encoder = {
    info: real.info, close: async () => {},
    encode: (texts, role, o) => { calls.push(texts.length); return real.encode(texts, role, o); },
  };
  const t = await app({ encoder: counting });
  await post(t, '/embed', { text: 'already cached' });
  calls.length = 0;
  const res = await post(t, '/embed/batch', {
    items: [
      { id: 'a', text: 'already cached' },
      { id: 'b', text: 'fresh one' },
      { id: 'c', text: 'has a \u0000 NUL' },
      { id: 'd', text: 'fresh two' },
      { id: 'e', text: 'fresh one' },
    ],
  });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.deepEqual(calls, [2], 'one encoder call for the two distinct misses');
  assert.deepEqual(
    { total: body.total, successful: body.successful, cached_count: body.cached_count },
    { total: 5, successful: 4, cached_count: 1 },
  );
  assert.equal(body.model_checksum, real.info.checksum);
  assert.equal(body.model_version, real.info.version);
  assert.deepEqual(body.results.map((r: { id: string }) => r.id), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(body.results.map((r: { cached: boolean }) => r.cached), [true, false, false, false, false]);
  const failed = body.results[2];
  assert.equal(failed.embedding, null);
  assert.match(failed.error, /items\[2\]\.text contains a NUL character.*PostgreSQL/);
  const direct = await real.encode(['already cached', 'fresh one', 'fresh two'], 'query');
  assert.ok(bits(body.results[0].embedding).equals(bits(direct.vectors[0]!)));
  assert.ok(bits(body.results[1].embedding).equals(bits(direct.vectors[1]!)));
  assert.ok(bits(body.results[3].embedding).equals(bits(direct.vectors[2]!)));
  assert.ok(bits(body.results[4].embedding).equals(bits(direct.vectors[1]!)));
  const event = t.logs.find((l) => l.event === 'batch_process');
  assert.deepEqual([event?.total, event?.successful, event?.cached], [5, 4, 1]);
  assert.ok(typeof event?.request_id === 'string');
});

test('POST /embed/batch honours role for every item', async () => {
  const t = await app();
  const real = await tinyEncoder();
  const body = (await post(t, '/embed/batch', { role: 'document', items: [{ id: '1', text: 'blue sofa' }] })).json();
  assert.ok(bits(body.results[0].embedding).equals(bits((await real.encode(['blue sofa'], 'document')).vectors[0]!)));
});

test('POST /v1/embeddings: OpenAI shape, float and base64 (little-endian float32), usage', async () => {
  const t = await app();
  const real = await tinyEncoder();
  const res = await post(t, '/v1/embeddings', { input: ['search_document: green lamp', 'search_query: lamp'], model: 'anything' });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.object, 'list');
  assert.equal(body.model, real.info.name);
  assert.deepEqual(body.data.map((d: { object: string; index: number }) => [d.object, d.index]), [['embedding', 0], ['embedding', 1]]);
  // Inputs that already carry the model's prompt are embedded exactly as given.
  assert.ok(bits(body.data[0].embedding).equals(bits((await real.encode(['green lamp'], 'document')).vectors[0]!)));
  assert.ok(bits(body.data[1].embedding).equals(bits((await real.encode(['lamp'], 'query')).vectors[0]!)));
  assert.ok(body.usage.prompt_tokens > 0);
  assert.equal(body.usage.total_tokens, body.usage.prompt_tokens);

  const b64 = (await post(t, '/v1/embeddings', { input: 'search_document: green lamp', encoding_format: 'base64' })).json();
  const raw = Buffer.from(b64.data[0].embedding, 'base64');
  const floats = Array.from({ length: raw.length / 4 }, (_, i) => raw.readFloatLE(i * 4));
  assert.ok(bits(floats).equals(bits(body.data[0].embedding)));
  assert.equal(b64.usage.prompt_tokens, 0, 'served from the cache: no tokens read');

  // input_type picks the prompt explicitly; without it, plain text gets the document prompt.
  const typed = (await post(t, '/v1/embeddings', { input: 'lamp', input_type: 'query' })).json();
  assert.ok(bits(typed.data[0].embedding).equals(bits(body.data[1].embedding)));
  const plain = (await post(t, '/v1/embeddings', { input: 'green lamp' })).json();
  assert.ok(bits(plain.data[0].embedding).equals(bits(body.data[0].embedding)));

  const models = (await t.app.inject({ method: 'GET', url: '/v1/models' })).json();
  assert.deepEqual(models.data.map((m: { id: string }) => m.id), [real.info.name, `${real.info.name}-query`, `${real.info.name}-document`]);
});

test('POST /embed with TEI { inputs }: bare array of vectors, prompt_name picks the prompt', async () => {
  const t = await app();
  const real = await tinyEncoder();
  const one = await post(t, '/embed', { inputs: 'search_document: oak table' });
  assert.equal(one.statusCode, 200);
  const vectors = one.json();
  assert.ok(Array.isArray(vectors) && vectors.length === 1 && vectors[0].length === real.info.dimensions);
  assert.ok(bits(vectors[0]).equals(bits((await real.encode(['oak table'], 'document')).vectors[0]!)));
  const many = (await post(t, '/embed', { inputs: ['oak table', 'pine chair'], prompt_name: 'query', normalize: true, truncate: true }))
    .json();
  const direct = await real.encode(['oak table', 'pine chair'], 'query');
  assert.ok(bits(many[0]).equals(bits(direct.vectors[0]!)));
  assert.ok(bits(many[1]).equals(bits(direct.vectors[1]!)));
  // The model's own prompt names (sentence-transformers config) work as they do with TEI.
  const named = (await post(t, '/embed', { inputs: ['oak table'], prompt_name: 'search_query' })).json();
  assert.ok(bits(named[0]).equals(bits(direct.vectors[0]!)));

  const info = (await t.app.inject({ method: 'GET', url: '/info' })).json();
  assert.equal(info.model_id, real.info.name);
  assert.equal(info.model_sha, real.info.checksum);
  assert.equal(info.max_client_batch_size, t.config.http.maxBatchSize);
  assert.equal(info.max_input_length, real.info.maxTokens);
});

test('GET /health, /model-info, /metrics, /cache/stats, POST /cache/clear', async () => {
  const t = await app({ env: { CACHE_MAX_SIZE: '50', CACHE_TTL_SECONDS: '120' } });
  const real = await tinyEncoder();
  assert.deepEqual((await t.app.inject({ method: 'GET', url: '/health' })).json(), { status: 'ok' });

  const info = (await t.app.inject({ method: 'GET', url: '/model-info' })).json();
  assert.equal(info.name, real.info.name);
  assert.equal(info.dimensions, real.info.dimensions);
  assert.equal(info.pooling, real.info.pooling);
  assert.deepEqual(info.prompts, real.info.prompts);
  assert.equal(info.max_tokens, real.info.maxTokens);
  assert.equal(info.checksum, real.info.checksum);
  assert.equal(info.version, real.info.version);
  assert.equal(typeof info.load_time_seconds, 'number');
  assert.equal(info.limits.max_batch_size, 128);

  await post(t, '/embed', { text: 'one' });
  await post(t, '/embed', { text: 'one' });
  await post(t, '/embed', { text: 'two' });
  const stats = (await t.app.inject({ method: 'GET', url: '/cache/stats' })).json();
  assert.deepEqual(
    [stats.size, stats.max_size, stats.ttl_seconds, stats.hits, stats.misses, stats.hit_rate],
    [2, 50, 120, 1, 2, 1 / 3],
  );
  const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' }));
  assert.match(metrics.headers['content-type'] as string, /text\/plain/);
  for (const line of [
    'embedding_cache_hits_total 1', 'embedding_cache_misses_total 2', 'embedding_model_loaded 1',
    'embedding_requests_total{endpoint="/embed",status="200"} 3',
  ]) assert.ok(metrics.body.includes(line), `metrics has ${line}`);
  assert.match(metrics.body, /embedsync_tokens_total [1-9]/);
  assert.match(metrics.body, /embedding_request_latency_seconds_count\{endpoint="\/embed"\} 3/);

  const bodiless = await post(t, '/cache/clear', undefined);
  assert.equal(bodiless.statusCode, 415, 'a bodiless POST could come from any web page without a preflight');
  assert.match(bodiless.json().detail, /Content-Type: application\/json .*X-Requested-With/);
  assert.equal((await t.app.inject({ method: 'GET', url: '/cache/stats' })).json().size, 2, 'nothing cleared');
  const cleared = await post(t, '/cache/clear', {});
  assert.equal(cleared.statusCode, 200);
  assert.deepEqual(cleared.json(), { status: 'cleared', cleared: 2 });
  assert.equal((await post(t, '/embed', { text: 'one' })).json().cached, false);
});

test('CACHE_ENABLED=false: every answer is fresh (and still identical)', async () => {
  const t = await app({ env: { CACHE_ENABLED: 'false' } });
  const a = await post(t, '/embed', { text: 'no cache here' });
  const b = await post(t, '/embed', { text: 'no cache here' });
  assert.deepEqual([a.json().cached, b.json().cached], [false, false]);
  assert.equal(a.body, b.body);
  const stats = (await t.app.inject({ method: 'GET', url: '/cache/stats' })).json();
  assert.deepEqual([stats.enabled, stats.size, stats.hits], [false, 0, 0]);
});

test('GET /status: the provider\'s answer; 404 without one; 503 when it fails, without its details', async () => {
  const withStatus = await app({ status: async () => ({ queue_depth: 3, deadletter: 0 }) });
  assert.deepEqual((await withStatus.app.inject({ method: 'GET', url: '/status' })).json(), { queue_depth: 3, deadletter: 0 });
  const without = await app();
  const res = await without.app.inject({ method: 'GET', url: '/status' });
  assert.equal(res.statusCode, 404);
  assert.match(res.json().detail, /--no-sync/);
  const failing = await app({ status: async () => { throw new Error('connect ECONNREFUSED db.internal:5432 user=secret'); } });
  const bad = await failing.app.inject({ method: 'GET', url: '/status' });
  assert.equal(bad.statusCode, 503);
  assert.ok(!bad.body.includes('db.internal'));
  assert.equal(bad.json().request_id, bad.headers['x-request-id']);
});

test('/ready is 503 while the model loads, 200 once loaded and warmed up; embeds wait MODEL_WAIT_SECONDS, then 503', async () => {
  const real = await tinyEncoder();
  const loading = deferred<Encoder>();
  let warmed = 0;
  const watching: Encoder = {
    info: real.info, close: async () => {}, encode: (texts, role, o) => { warmed += 1; return real.encode(texts, role, o); },
  };
  const t = await app({ encoder: loading.promise, ready: false, env: { MODEL_WAIT_SECONDS: '0.2' } });
  const before = await t.app.inject({ method: 'GET', url: '/ready' });
  assert.equal(before.statusCode, 503);
  assert.match(before.json().detail, /loading/);
  const asked = Date.now();
  const early = await post(t, '/embed', { text: 'too early' });
  assert.ok(Date.now() - asked >= 190, 'held for MODEL_WAIT_SECONDS first');
  assert.equal(early.statusCode, 503);
  assert.match(early.json().detail, /model is loading/);
  assert.ok(early.headers['retry-after']);
  assert.ok(t.logs.some((l) => l.event === 'model_loading'));
  assert.match((await t.app.inject({ method: 'GET', url: '/metrics' })).body, /embedding_model_loaded 0/);

  loading.resolve(watching);
  await t.app.embedsync.ready;
  assert.equal(warmed, 1, 'one warm-up encode before ready');
  const ready = await t.app.inject({ method: 'GET', url: '/ready' });
  assert.equal(ready.statusCode, 200, ready.body + JSON.stringify(t.logs.filter((l) => l.event !== 'request')));
  assert.equal(ready.json().checksum, real.info.checksum);
  const loaded = t.logs.find((l) => l.event === 'model_loaded')!;
  assert.equal(loaded.dimensions, real.info.dimensions);
  assert.equal(loaded.checksum, real.info.checksum);
  assert.equal(typeof loaded.load_time_seconds, 'number');
  assert.equal((await post(t, '/embed', { text: 'now' })).statusCode, 200);
});

test('/ready stays 503 with the reason when the model fails to load', async () => {
  const t = await app({ encoder: Promise.reject(new Error('model.onnx is missing in /models/x')), ready: false });
  await t.app.embedsync.ready;
  const res = await t.app.inject({ method: 'GET', url: '/ready' });
  assert.equal(res.statusCode, 503);
  assert.match(res.json().detail, /failed to load: model.onnx is missing/);
  assert.ok(t.logs.some((l) => l.event === 'model_load_failed'));
});

test('/openapi.json and /docs come from the route schemas', async () => {
  const t = await app();
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.statusCode, 200);
  const spec = res.json();
  assert.equal(spec.openapi, '3.1.0');
  for (const path of [
    '/embed', '/embed/batch', '/v1/embeddings', '/health', '/ready', '/model-info', '/metrics', '/cache/stats', '/cache/clear', '/status',
    '/info',
  ]) {
    assert.ok(spec.paths[path], `documents ${path}`);
  }
  const text = spec.paths['/embed'].post.requestBody.content['application/json'].schema.properties.text;
  assert.equal(text.maxLength, t.config.http.maxTextLength, 'the documented limit is the enforced one');
  const items = spec.paths['/embed/batch'].post.requestBody.content['application/json'].schema.properties.items;
  assert.equal(items.maxItems, t.config.http.maxBatchSize);
  const docs = await t.app.inject({ method: 'GET', url: '/docs' });
  assert.ok([200, 302].includes(docs.statusCode));
  const page = await t.app.inject({ method: 'GET', url: docs.statusCode === 302 ? (docs.headers.location as string) : '/docs' });
  assert.match(page.body, /swagger/i);
});

test('every response above matches /openapi.json (status documented, body valid)', async () => {
  const { checked } = await assertContract();
  assert.ok(checked > 20, `checked ${checked} responses`);
});
