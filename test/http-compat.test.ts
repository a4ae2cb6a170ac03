// What clients of other embedding servers rely on: OpenAI's 2048 inputs, token arrays refused clearly, model ids
// with slashes, query/document model aliases; TEI's POST / and /invocations, its error body and
// truncation_direction; requests held while the model loads; batch item errors; the guarded cache clear; CORS
// for the OpenAI SDK's headers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Encoder } from '../src/encoder/types.ts';
import { assertContract } from './helpers/contract.ts';
import { bits, closeTestApps, deferred, post, testConfig, tinyEncoder, trackedApp } from './helpers/http-app.ts';
import { waitFor } from './helpers/sync.ts';

after(closeTestApps);

function counting(real: Encoder): Encoder & { batches: number[] } {
  const batches: number[] = [];
  return {
    info: real.info, batches, close: async () => {},
    encode: (texts, role, o) => { batches.push(texts.length); return real.encode(texts, role, o); },
  };
}

test('POST /v1/embeddings: 2048 inputs, encoded MAX_BATCH_SIZE at a time, in order; 2049 → 400', async () => {
  const real = await tinyEncoder();
  const enc = counting(real);
  const t = await trackedApp({ encoder: enc, env: { MAX_BATCH_SIZE: '128', RATE_LIMIT: '100/second' } });
  enc.batches.length = 0;
  const input = Array.from({ length: 2048 }, (_, i) => `document number ${i}`);
  const res = await post(t, '/v1/embeddings', { input, encoding_format: 'base64' });
  assert.equal(res.statusCode, 200, res.body.slice(0, 300));
  const body = res.json();
  assert.equal(body.data.length, 2048);
  assert.deepEqual(body.data.map((d: { index: number }) => d.index), input.map((_, i) => i));
  assert.equal(enc.batches.length, 16);
  assert.ok(enc.batches.every((n) => n <= 128), `chunks ${enc.batches.join(',')}`);
  for (const i of [0, 1000, 2047]) {
    const direct = (await real.encode([input[i]!], 'document')).vectors[0]!;
    assert.ok(Buffer.from(body.data[i].embedding, 'base64').equals(bits(direct)), `input ${i} is its own vector`);
  }
  const tooMany = await post(t, '/v1/embeddings', { input: [...input, 'one more'] });
  assert.equal(tooMany.statusCode, 400);
  assert.match(tooMany.json().error.message, /^input has more than 2048 items/);
});

test('GET /v1/models/{id}: ids with slashes, encoded or not; aliases listed; unknown → OpenAI-shaped 404', async () => {
  const t = await trackedApp();
  const name = (await tinyEncoder()).info.name;
  assert.match(name, /\//, 'the tiny model id is a path');
  for (const id of [name, `${name}-query`, `${name}-document`]) {
    for (const url of [`/v1/models/${encodeURIComponent(id)}`, `/v1/models/${id}`]) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.deepEqual(res.json(), { id, object: 'model', created: 0, owned_by: 'embedsync' });
    }
  }
  const missing = await t.app.inject({ method: 'GET', url: '/v1/models/org/other-model' });
  assert.equal(missing.statusCode, 404);
  assert.match(missing.json().error.message, /model "org\/other-model" not found/);
});

test('model aliases pick the prompt for clients that cannot send input_type; configurable; conflicts → 400', async () => {
  const real = await tinyEncoder();
  const t = await trackedApp();
  const name = real.info.name;
  const vectorOf = async (payload: object) => {
    const res = await post(t, '/v1/embeddings', { input: 'brass lamp', ...payload });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  const query = await vectorOf({ model: `${name}-query` });
  const document = await vectorOf({ model: `${name}-document` });
  assert.equal(query.model, `${name}-query`);
  assert.ok(bits(query.data[0].embedding).equals(bits((await real.encode(['brass lamp'], 'query')).vectors[0]!)));
  assert.ok(bits(document.data[0].embedding).equals(bits((await real.encode(['brass lamp'], 'document')).vectors[0]!)));
  const other = await vectorOf({ model: 'text-embedding-3-small' });
  assert.deepEqual(other.data[0].embedding, document.data[0].embedding, 'another name: the document prompt, as before');
  const conflict = await post(t, '/v1/embeddings', { input: 'x', model: `${name}-query`, input_type: 'document' });
  assert.equal(conflict.statusCode, 400);
  assert.match(conflict.json().error.message, /selects the query prompt but input_type is document/);

  const custom = await trackedApp({ env: { OPENAI_QUERY_MODEL: 'search-q', OPENAI_DOCUMENT_MODEL: 'search-d' } });
  const ids = (await custom.app.inject({ method: 'GET', url: '/v1/models' })).json().data.map((m: { id: string }) => m.id);
  assert.deepEqual(ids, [name, 'search-q', 'search-d']);
  const q = (await post(custom, '/v1/embeddings', { input: 'brass lamp', model: 'search-q' })).json();
  assert.deepEqual(q.data[0].embedding, query.data[0].embedding);
  assert.throws(() => testConfig({ OPENAI_QUERY_MODEL: 'same', OPENAI_DOCUMENT_MODEL: 'same' }),
    /OPENAI_QUERY_MODEL and OPENAI_DOCUMENT_MODEL must differ/);
});

test('TEI: POST / and /invocations embed; errors in TEI\'s shape on every TEI route; truncation_direction', async () => {
  const real = await tinyEncoder();
  const t = await trackedApp({ env: { MAX_TEXT_LENGTH: '40' } });
  const fromEmbed = (await post(t, '/embed', { inputs: ['oak table', 'pine chair'] })).json();
  for (const url of ['/', '/invocations']) {
    const res = await post(t, url, { inputs: ['oak table', 'pine chair'], truncate: true, truncation_direction: 'Right' });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    assert.deepEqual(res.json(), fromEmbed);
    const q = (await post(t, url, { inputs: 'oak table', prompt_name: 'query' })).json();
    assert.ok(bits(q[0]).equals(bits((await real.encode(['oak table'], 'query')).vectors[0]!)));
    for (const [payload, message] of [
      [{ inputs: 'x', truncation_direction: 'Up' }, /^truncation_direction must be one of "Right", "right", "Left", "left"$/],
      [{ inputs: ['ok', ' '] }, /^inputs\[1\] is only whitespace/],
      [{ inputs: 'y'.repeat(41) }, /^inputs is longer than MAX_TEXT_LENGTH/],
      [{}, /^inputs is required$/],
    ] as const) {
      const bad = await post(t, url, payload);
      assert.equal(bad.statusCode, 400, `${url} ${JSON.stringify(payload)}`);
      assert.deepEqual(Object.keys(bad.json()).sort(), ['error', 'error_type', 'request_id']);
      assert.equal(bad.json().error_type, 'Validation');
      assert.match(bad.json().error, message);
    }
    const notJson = await t.app.inject({
      method: 'POST', url, payload: 'inputs=x', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(notJson.statusCode, 415);
    assert.equal(notJson.json().error_type, 'Validation');
  }
});

test('TEI truncation_direction Left keeps the prompt and the end of an over-long input; Right its beginning', async () => {
  const real = await tinyEncoder();
  const t = await trackedApp({});
  const long = `beginning ${'filler words '.repeat(400)} the distinct ending`;
  const [left, right, shortLeft, shortRight] = await Promise.all([
    post(t, '/', { inputs: long, truncation_direction: 'Left' }),
    post(t, '/', { inputs: long, truncation_direction: 'Right' }),
    post(t, '/', { inputs: 'oak table', truncation_direction: 'left' }),
    post(t, '/', { inputs: 'oak table' }),
  ]);
  for (const r of [left, right, shortLeft, shortRight]) assert.equal(r.statusCode, 200, r.body);
  const expect = async (truncate: 'left' | 'right') => bits((await real.encode([long], 'document', { truncate })).vectors[0]!);
  assert.ok(bits(left.json()[0]).equals(await expect('left')), 'Left: the encoder cut at the left');
  assert.ok(bits(right.json()[0]).equals(await expect('right')));
  assert.ok(!bits(left.json()[0]).equals(bits(right.json()[0])), 'an over-long input gives another vector cut at the other end');
  assert.ok(bits(shortLeft.json()[0]).equals(bits(shortRight.json()[0])), 'a text that fits is not cut either way');
});

test('while the model loads, requests are held up to MODEL_WAIT_SECONDS and answered once it is ready', async () => {
  const loading = deferred<Encoder>();
  const t = await trackedApp({ encoder: loading.promise, ready: false, env: { MODEL_WAIT_SECONDS: '5' } });
  // A request is held once it waits for the model (app.ts, preHandler): counted here, so the model comes after all three.
  const model = t.app.embedsync.model;
  const waitReady = model.waitReady.bind(model);
  let held = 0;
  model.waitReady = (maxMs) => { held += 1; return waitReady(maxMs); };
  const asked = Date.now();
  const pending = Promise.all([
    post(t, '/', { inputs: 'held' }), post(t, '/embed', { text: 'held' }), t.app.inject({ method: 'GET', url: '/info' }),
  ]);
  await waitFor('three requests held', async () => held === 3, 5000, 5);
  assert.equal(model.phase, 'loading');
  assert.equal((await t.app.inject({ method: 'GET', url: '/ready' })).statusCode, 503, 'probes never wait');
  loading.resolve(await tinyEncoder());
  const answers = await pending;
  assert.deepEqual(answers.map((r) => r.statusCode), [200, 200, 200]);
  assert.ok(Date.now() - asked < 4000, 'answered at readiness, not at the end of the wait');

  const slow = await trackedApp({ encoder: new Promise<Encoder>(() => {}), ready: false, env: { MODEL_WAIT_SECONDS: '0.1' } });
  const tei = await post(slow, '/invocations', { inputs: 'x' });
  assert.equal(tei.statusCode, 503);
  assert.deepEqual([tei.json().error_type, tei.headers['retry-after']], ['Unhealthy', '5']);
  const info = await slow.app.inject({ method: 'GET', url: '/info' });
  assert.equal(info.json().error_type, 'Unhealthy');
});

test('/embed/batch: an empty item comes back like a whitespace or NUL item, inside a 200', async () => {
  const t = await trackedApp();
  const res = await post(t, '/embed/batch', {
    items: [{ id: 'e', text: '' }, { id: 'w', text: '  ' }, { id: 'n', text: 'a\u0000' }, { id: 'ok', text: 'fine' }],
  });
  assert.equal(res.statusCode, 200, res.body);
  const { results, successful } = res.json();
  assert.equal(successful, 1);
  assert.deepEqual(results.slice(0, 3).map((r: { embedding: unknown; cached: boolean }) => [r.embedding, r.cached]),
    [[null, false], [null, false], [null, false]]);
  assert.equal(results[0].error, 'items[0].text must not be empty');
  assert.match(results[1].error, /^items\[1\]\.text is only whitespace/);
  assert.match(results[2].error, /^items\[2\]\.text contains a NUL/);
  assert.equal(results[3].embedding.length, 64);
});

test('POST /cache/clear is never reachable by a bodiless cross-origin request', async () => {
  const t = await trackedApp();
  await post(t, '/embed', { text: 'cached thing' });
  const size = async () => (await t.app.inject({ method: 'GET', url: '/cache/stats' })).json().size;
  const simple = await t.app.inject({ method: 'POST', url: '/cache/clear', headers: { origin: 'https://evil.example' } });
  assert.equal(simple.statusCode, 415);
  const form = await t.app.inject({
    method: 'POST', url: '/cache/clear', payload: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(form.statusCode, 415);
  assert.equal(await size(), 1, 'nothing cleared');
  assert.equal((await t.app.inject({ method: 'POST', url: '/cache/clear', headers: { 'x-requested-with': 'curl' } })).statusCode, 200);
  await post(t, '/embed', { text: 'cached again' });
  assert.equal((await post(t, '/cache/clear', {})).json().cleared, 1);
  const keyed = await trackedApp({ env: { API_KEY: 'k' } });
  assert.equal((await keyed.app.inject({ method: 'POST', url: '/cache/clear', headers: { authorization: 'Bearer k' } })).statusCode, 200,
    'the key is enough');
});

test('CORS preflight allows the headers the OpenAI SDK sends', async () => {
  const t = await trackedApp({ env: { ALLOWED_ORIGINS: 'https://app.example.com' } });
  const sdk = 'authorization,content-type,x-stainless-arch,x-stainless-lang,x-stainless-os,x-stainless-package-version,'
    + 'x-stainless-retry-count,x-stainless-runtime,x-stainless-runtime-version,x-stainless-timeout';
  const res = await t.app.inject({
    method: 'OPTIONS', url: '/v1/embeddings',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': sdk },
  });
  assert.ok(res.statusCode < 300);
  const allowed = String(res.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
  for (const h of sdk.split(',')) assert.ok(allowed.includes(h), `allows ${h}`);
});

test('per-route body limits: /embed fits one text, the batch routes BODY_LIMIT_BYTES, others a small object', async () => {
  const t = await trackedApp({ env: { MAX_TEXT_LENGTH: '1000' } });
  const single = 1000 * 12 + 4096;
  const huge = { text: 'x'.repeat(1000), padding: 'p'.repeat(single) };
  const tooBig = await post(t, '/embed', huge);
  assert.equal(tooBig.statusCode, 413);
  assert.equal(tooBig.json().detail, `request body is larger than ${single} bytes ` +
    '(one text of MAX_TEXT_LENGTH characters; send many texts to /embed/batch, POST / or /v1/embeddings)');
  assert.equal((await post(t, '/embed', { text: '\u{1F600}'.repeat(1000) })).statusCode, 200, 'a full-length text fits');
  // TEI clients post lists to /embed within TEI's own 2 MB payload limit (capped by BODY_LIMIT_BYTES, 1 MiB here).
  const list = Array.from({ length: 100 }, (_, i) => `${i} ${'\u00e9'.repeat(990)}`);
  const tei = await post(t, '/embed', { truncate: true, inputs: list });
  assert.ok(tei.payload.length > 0 && JSON.stringify({ inputs: list }).length > single);
  assert.equal(tei.statusCode, 200, tei.body.slice(0, 200));
  assert.equal(tei.json().length, 100);
  const teiTooBig = await post(t, '/embed', { inputs: ['x'], padding: 'p'.repeat(1 << 20) });
  assert.equal(teiTooBig.statusCode, 413);
  assert.match(teiTooBig.json().detail, /^request body is larger than 1048576 bytes \(BODY_LIMIT_BYTES\)$/,
    'TEI\'s 2 MB, capped by BODY_LIMIT_BYTES');
  assert.equal((await post(t, '/embed/batch', { items: [{ id: 'a', text: 'x' }], padding: 'p'.repeat(single) })).statusCode, 200);
  const clear = await post(t, '/cache/clear', { padding: 'p'.repeat(20_000) });
  assert.equal(clear.statusCode, 413);
  assert.match(clear.json().detail, /this route takes a small JSON object/);
});

test('every response above matches /openapi.json', async () => {
  await assertContract();
});
