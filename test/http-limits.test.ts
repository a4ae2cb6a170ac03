// Every limit's status code and message, rate limits and recovery, auth, CORS, the concurrency cap and timeout,
// internal errors, and what the logs hold.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Encoder } from '../src/encoder/types.ts';
import { assertContract } from './helpers/contract.ts';
import { closeTestApps, refusingEncoder, slowEncoder, tinyEncoder, post, trackedApp, type TestApp } from './helpers/http-app.ts';

const app = trackedApp;
after(closeTestApps);


test('400s name the field and the limit', async () => {
  const t = await app({ env: { MAX_TEXT_LENGTH: '20', MAX_BATCH_SIZE: '3' } });
  const cases: [string, unknown, RegExp][] = [
    ['/embed', { text: 'x'.repeat(21) }, /^text is longer than MAX_TEXT_LENGTH \(20 characters\)$/],
    ['/embed', { text: '😀'.repeat(20) }, /^$/], // 20 characters (code points) is within the limit
    ['/embed', { text: '' }, /^text must not be empty$/],
    ['/embed', { text: ' \n\t ' }, /^text is only whitespace/],
    ['/embed', { text: 'a\u0000b' }, /^text contains a NUL character .*PostgreSQL text cannot store/],
    ['/embed', { text: 'bad \ud800 surrogate' }, /^text contains an unpaired UTF-16 surrogate/],
    ['/embed', { text: 123 }, /^text must be a string$/],
    ['/embed', { text: 'ok', role: 'admin' }, /^role must be one of "query", "document"$/],
    ['/embed', {}, /^text or inputs is required$/],
    ['/embed', { text: 'a', inputs: 'b' }, /^send either text or inputs, not both$/],
    ['/embed', [1, 2], /^request body must be an object$/],
    ['/embed/batch', { items: [1, 2, 3, 4].map((i) => ({ id: `${i}`, text: 'x' })) }, /^items has more than MAX_BATCH_SIZE \(3\) items$/],
    ['/embed/batch', { items: [] }, /^items must not be empty$/],
    ['/embed/batch', { items: [{ id: 'a', text: 'ok' }, { id: 'b', text: 'y'.repeat(21) }] },
      /^items\[1\]\.text is longer than MAX_TEXT_LENGTH \(20 characters\)$/],
    ['/embed/batch', { items: [{ text: 'ok' }] }, /^items\[0\]\.id is required$/],
    ['/embed/batch', { items: [{ id: 7, text: 'ok' }] }, /^items\[0\]\.id must be a string$/],
    ['/embed/batch', {}, /^items is required$/],
  ];
  for (const [url, payload, message] of cases) {
    const res = await post(t, url, payload);
    if (message.source === '^$') {
      assert.equal(res.statusCode, 200, `${JSON.stringify(payload)}: ${res.body}`);
      continue;
    }
    assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)} → ${res.statusCode} ${res.body}`);
    const body = res.json();
    assert.match(body.detail ?? body.error, message); // (with inputs, the TEI shape: { error, error_type })
    assert.equal(body.request_id, res.headers['x-request-id']);
  }
});

test('malformed JSON, invalid UTF-8, wrong media type → 400/415; a body over the byte limit → 413', async () => {
  const t = await app({ env: { BODY_LIMIT_BYTES: '2000' } });
  const json = { 'content-type': 'application/json' };
  const malformed = await t.app.inject({ method: 'POST', url: '/embed', payload: '{"text": "unterminated', headers: json });
  assert.equal(malformed.statusCode, 400);
  assert.match(malformed.json().detail, /^request body is not valid JSON/);

  const invalidUtf8 = Buffer.concat([Buffer.from('{"text": "caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
  const bad = await t.app.inject({ method: 'POST', url: '/embed', payload: invalidUtf8, headers: json });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().detail, 'request body is not valid UTF-8');

  const plain = await t.app.inject({ method: 'POST', url: '/embed', payload: 'hello', headers: { 'content-type': 'text/plain' } });
  assert.equal(plain.statusCode, 415);
  assert.equal(plain.json().detail, 'Content-Type must be application/json');
  const vendor = await t.app.inject({
    method: 'POST', url: '/embed', payload: '{"text":"ok"}', headers: { 'content-type': 'application/vnd.api+json; charset=utf-8' },
  });
  assert.equal(vendor.statusCode, 200, '+json media types are JSON');

  const big = await post(t, '/embed', { text: 'z'.repeat(3000) });
  assert.equal(big.statusCode, 413);
  assert.match(big.json().detail, /larger than 2000 bytes \(BODY_LIMIT_BYTES\)/);
  // The same limit caps the single-text route, whose own is smaller still (one text of MAX_TEXT_LENGTH).
  const nested = await t.app.inject({ method: 'POST', url: '/embed/batch', payload: `${'['.repeat(17)}${']'.repeat(17)}`, headers: json });
  assert.equal(nested.statusCode, 400);
  assert.equal(nested.json().detail, 'request body nests JSON deeper than 16 levels');
  const brackets = await post(t, '/embed', { text: '[[[[[[[[[[[[[[[[[[[[ in a string, brackets are text' });
  assert.equal(brackets.statusCode, 200, 'brackets inside strings do not count');
});

test('OpenAI and TEI requests get errors in their own shapes', async () => {
  const t = await app({ env: { MAX_TEXT_LENGTH: '20' } });
  const wrongType = await post(t, '/v1/embeddings', { input: 5 });
  assert.equal(wrongType.statusCode, 400);
  assert.equal(wrongType.json().error.message, 'input must be a string or an array');
  assert.equal(wrongType.json().error.type, 'invalid_request_error');
  assert.equal((await post(t, '/v1/embeddings', { input: ['ok', 2] })).json().error.message, 'input[1] must be a string');
  for (const tokens of [[1, 2], [[1, 2], [3]]]) {
    const res = await post(t, '/v1/embeddings', { input: tokens });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error.message, /^input is a token array: this server accepts text only/);
  }
  assert.match((await post(t, '/v1/embeddings', { input: ['ok', 'x'.repeat(21)] })).json().error.message,
    /^input\[1\] is longer than MAX_TEXT_LENGTH \(20/);
  assert.match((await post(t, '/v1/embeddings', { input: 'ok', dimensions: 3 })).json().error.message, /^dimensions must be 64/);
  assert.match((await post(t, '/v1/embeddings', { input: 'a\u0000' })).json().error.message, /NUL/);
  assert.match((await post(t, '/v1/embeddings', { input: 'ok', encoding_format: 'hex' })).json().error.message,
    /encoding_format must be one of "float", "base64"/);

  const tei = await post(t, '/embed', { inputs: ['fine', 'y'.repeat(21)] });
  assert.equal(tei.statusCode, 400);
  assert.equal(tei.json().error_type, 'Validation');
  assert.match(tei.json().error, /^inputs\[1\] is longer than MAX_TEXT_LENGTH/);
  assert.match((await post(t, '/embed', { inputs: 'x', normalize: false })).json().error, /normalize=false is not supported/);
  assert.match((await post(t, '/embed', { inputs: 'x', prompt_name: 'nope' })).json().error, /prompt_name must be one of/);
});

test('an input the encoder refuses fails alone in a batch (with or without an index to blame), and 400 alone', async () => {
  const real = await tinyEncoder();
  let last: TestApp | undefined;
  for (const blame of ['index', 'none'] as const) {
    const refusing = refusingEncoder(real, '#poison#', blame);
    const t = await app({ encoder: refusing });
    last = t;
    const items = ['alpha', 'beta #poison#', 'gamma', 'delta', 'epsilon'].map((text, i) => ({ id: `i${i}`, text }));
    const body = (await post(t, '/embed/batch', { items })).json();
    assert.equal(body.successful, 4, blame);
    assert.equal(body.results[1].embedding, null);
    assert.match(body.results[1].error, /items\[1\]\.text cannot be embedded: input produces no usable tokens/);
    const direct = await real.encode(['alpha', 'gamma', 'delta', 'epsilon'], 'query');
    [0, 2, 3, 4].forEach((i, j) => {
      assert.deepEqual(body.results[i].embedding, Array.from(direct.vectors[j]!), `${blame}: item ${i} is intact`);
    });
    const single = await post(t, '/embed', { text: 'x #poison#' });
    assert.equal(single.statusCode, 400);
    assert.match(single.json().detail, /^text cannot be embedded/);
  }
  const metrics = last!.metrics;
  assert.match(await metrics.registry.metrics(), /embedding_encode_failures_total\{reason="input"\} [1-9]/);
});

test('RATE_LIMIT per client → 429 with Retry-After, then recovery; RATE_LIMIT_BATCH is its own budget', async () => {
  const t = await app({ env: { RATE_LIMIT: '3/second', RATE_LIMIT_BATCH: '1/second' } });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await post(t, '/embed', { text: `q${i}` })).statusCode);
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  const limited = await post(t, '/embed', { text: 'again' });
  assert.equal(limited.statusCode, 429);
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  assert.match(limited.json().detail, /rate limit exceeded: 3\/second per client \(RATE_LIMIT\)/);
  assert.equal((await post(t, '/embed', { text: 'other client' }, {}, '10.9.9.9')).statusCode, 200, 'another IP has its own budget');
  assert.equal((await t.app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'probes are never limited');

  const batch = { items: [{ id: '1', text: 'b' }] };
  assert.equal((await post(t, '/embed/batch', batch)).statusCode, 200, 'batch budget is separate');
  const batchLimited = await post(t, '/embed/batch', batch);
  assert.equal(batchLimited.statusCode, 429);
  assert.match(batchLimited.json().detail, /RATE_LIMIT_BATCH/);

  await new Promise((r) => setTimeout(r, Number(limited.headers['retry-after']) * 1000 + 50));
  assert.equal((await post(t, '/embed', { text: 'recovered' })).statusCode, 200);
  assert.equal((await post(t, '/embed/batch', batch)).statusCode, 200);
});

test('TRUST_PROXY: behind a proxy, clients are told apart by X-Forwarded-For', async () => {
  const t = await app({ env: { RATE_LIMIT: '1/minute', TRUST_PROXY: '127.0.0.1' } });
  const from = (client: string) => post(t, '/embed', { text: 'p' }, { 'x-forwarded-for': client }, '127.0.0.1');
  assert.deepEqual([(await from('203.0.113.1')).statusCode, (await from('203.0.113.1')).statusCode], [200, 429]);
  assert.equal((await from('203.0.113.2')).statusCode, 200, 'another client behind the same proxy');
  const untrusted = await app({ env: { RATE_LIMIT: '1/minute' } });
  await post(untrusted, '/embed', { text: 'p' }, { 'x-forwarded-for': '203.0.113.1' });
  assert.equal((await post(untrusted, '/embed', { text: 'p' }, { 'x-forwarded-for': '203.0.113.9' })).statusCode, 429,
    'without TRUST_PROXY the header is ignored');
});

test('API_KEY: Bearer or X-API-Key required except on probes and metrics; wrong keys are rate-limited', async () => {
  const key = 's3cret-key-value';
  const t = await app({ env: { API_KEY: key, RATE_LIMIT: '4/minute' } });
  const noKey = await post(t, '/embed', { text: 'hi' });
  assert.equal(noKey.statusCode, 401);
  assert.match(noKey.json().detail, /API key required/);
  assert.equal(noKey.headers['www-authenticate'], 'Bearer');
  assert.equal((await post(t, '/embed', { text: 'hi' }, { authorization: `Bearer ${key}` })).statusCode, 200);
  assert.equal((await post(t, '/embed', { text: 'hi' }, { 'x-api-key': key })).statusCode, 200);
  for (const url of ['/health', '/ready', '/metrics']) {
    assert.equal((await t.app.inject({ method: 'GET', url })).statusCode, 200, url);
  }
  // (Each from its own address: these routes share one RATE_LIMIT budget per client.)
  for (const [i, url] of ['/model-info', '/cache/stats', '/openapi.json', '/docs', '/info', '/v1/models'].entries()) {
    assert.equal((await t.app.inject({ method: 'GET', url, remoteAddress: `10.0.0.${i + 2}` })).statusCode, 401, url);
  }
  const openapi = (await t.app.inject({ method: 'GET', url: '/openapi.json', headers: { 'x-api-key': key } })).json();
  assert.ok(openapi.components.securitySchemes.bearer, 'the spec documents the key');
  assert.deepEqual(openapi.paths['/health'].get.security, [], 'and that probes need none');
  assert.equal(openapi.paths['/embed'].post.security, undefined, 'the embedding routes inherit the requirement');

  // A guesser from one IP: wrong keys count against the IP's budget, then 429 even for more guesses.
  const guesses = [];
  for (let i = 0; i < 6; i++) {
    guesses.push((await post(t, '/embed', { text: 'x' }, { authorization: `Bearer guess-${i}` }, '10.1.1.1')).statusCode);
  }
  assert.deepEqual(guesses, [401, 401, 401, 401, 429, 429]);
  // The real key from the same IP is its own client.
  assert.equal((await post(t, '/embed', { text: 'x' }, { authorization: `Bearer ${key}` }, '10.1.1.1')).statusCode, 200);

  const open = await app();
  assert.equal((await post(open, '/embed', { text: 'hi' })).statusCode, 200, 'no API_KEY: open');
});

test('CORS follows ALLOWED_ORIGINS', async () => {
  const t = await app({ env: { ALLOWED_ORIGINS: 'https://app.example.com', API_KEY: 'k' } });
  const preflight = (origin: string) => t.app.inject({
    method: 'OPTIONS', url: '/embed',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-api-key' },
  });
  const ok = await preflight('https://app.example.com');
  assert.ok(ok.statusCode < 300, 'a preflight needs no key');
  assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.match(String(ok.headers['access-control-allow-headers']), /x-api-key/i);
  const evil = await preflight('https://evil.example');
  assert.equal(evil.headers['access-control-allow-origin'], undefined);
  const any = await app();
  const res = await any.app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://x.example' } });
  assert.equal(res.headers['access-control-allow-origin'], '*');
});

test('MAX_CONCURRENT_REQUESTS caps encodes; beyond the wait queue a burst gets 503 with Retry-After', async () => {
  const slow = slowEncoder(await tinyEncoder(), 300);
  const t = await app({ encoder: slow, env: { MAX_CONCURRENT_REQUESTS: '2', MAX_QUEUED_REQUESTS: '2', RATE_LIMIT: '1000/second' } });
  slow.maxInFlight = 0;
  const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => post(t, '/embed', { text: `burst ${i}` })));
  const codes = burst.map((r) => r.statusCode).sort();
  assert.deepEqual(codes, [200, 200, 200, 200, 503, 503, 503, 503, 503, 503]);
  assert.equal(slow.maxInFlight, 2, 'never more than 2 encodes at once');
  const rejected = burst.find((r) => r.statusCode === 503)!;
  assert.ok(Number(rejected.headers['retry-after']) >= 1);
  assert.match(rejected.json().detail, /MAX_CONCURRENT_REQUESTS.*MAX_QUEUED_REQUESTS/);
  // Cache hits never wait for an encoder slot: with every slot and queue place taken, one is still answered.
  const done = burst.findIndex((r) => r.statusCode === 200);
  const saturating = Array.from({ length: 4 }, (_, i) => post(t, '/embed', { text: `again ${i}` }));
  while (t.app.embedsync.limiter.running < 2) await new Promise((r) => setTimeout(r, 5));
  const hit = await post(t, '/embed', { text: `burst ${done}` });
  assert.equal(hit.statusCode, 200);
  assert.equal(hit.json().cached, true);
  assert.equal(t.app.embedsync.limiter.running, 2, 'answered while the encoder slots were all busy');
  assert.deepEqual((await Promise.all(saturating)).map((r) => r.statusCode), [200, 200, 200, 200]);
});

test('an encode over ENCODE_TIMEOUT_SECONDS → 503, and its slot is held until the encoder returns', async () => {
  const slow = slowEncoder(await tinyEncoder(), 500);
  const t = await app({ encoder: slow, env: { ENCODE_TIMEOUT_SECONDS: '0.1', MAX_CONCURRENT_REQUESTS: '1', MAX_QUEUED_REQUESTS: '0' } });
  const started = Date.now();
  const res = await post(t, '/embed', { text: 'slow one' });
  assert.equal(res.statusCode, 503);
  assert.match(res.json().detail, /ENCODE_TIMEOUT_SECONDS \(0\.1 s\)/);
  assert.ok(Date.now() - started < 400, 'answered at the deadline, not when the encoder finished');
  const meanwhile = await post(t, '/embed', { text: 'meanwhile' });
  assert.equal(meanwhile.statusCode, 503);
  assert.match(meanwhile.json().detail, /MAX_CONCURRENT_REQUESTS/, 'the one slot is still held by the timed-out encode');
  while (t.app.embedsync.limiter.running > 0) await new Promise((r) => setTimeout(r, 20));
  assert.ok(Date.now() - started >= 450, 'the slot was held until the encoder returned');
  const afterwards = await post(t, '/embed', { text: 'afterwards' });
  assert.match(afterwards.json().detail, /ENCODE_TIMEOUT_SECONDS/, 'the freed slot takes the next encode (which is slow again)');
  assert.match(await t.metrics.registry.metrics(), /embedding_encode_failures_total\{reason="timeout"\} 2/);
});

test('an internal error → 500 with the request id, never a stack or the cause', async () => {
  const real = await tinyEncoder();
  let fail = false;
  const broken: Encoder = {
    info: real.info, close: async () => {},
    encode: async (texts, role, o) => {
      if (fail) throw new Error('segfault-ish failure in /opt/secret/path');
      return real.encode(texts, role, o);
    },
  };
  const t = await app({ encoder: broken });
  fail = true;
  const res = await post(t, '/embed', { text: 'boom' }, { 'x-request-id': 'req-abc.123' });
  assert.equal(res.statusCode, 500);
  assert.equal(res.headers['x-request-id'], 'req-abc.123', 'a caller\'s request id is kept');
  const body = res.json();
  assert.equal(body.request_id, 'req-abc.123');
  assert.match(body.detail, /req-abc\.123/);
  assert.ok(!res.body.includes('/opt/secret') && !res.body.includes('at '), 'no cause, no stack');
  const logged = t.logs.find((l) => l.event === 'internal_error');
  assert.equal(logged?.request_id, 'req-abc.123');
  const unknown = await t.app.inject({ method: 'GET', url: '/nope' });
  assert.equal(unknown.statusCode, 404);
  assert.match(unknown.json().detail, /no route GET \/nope/);
});

test('logs: one line per request with its id; never texts or keys', async () => {
  const key = 'KEY-should-not-appear';
  const t = await app({ env: { API_KEY: key } });
  await post(t, '/embed', { text: 'TEXT-should-not-appear' }, { authorization: `Bearer ${key}` });
  await post(t, '/embed/batch', { items: [{ id: '1', text: 'BATCH-TEXT-should-not-appear' }] }, { 'x-api-key': key });
  await post(t, '/v1/embeddings', { input: 'OPENAI-should-not-appear' }, { 'x-api-key': 'WRONG-KEY-should-not-appear' });
  const requestLines = t.logs.filter((l) => l.event === 'request');
  assert.equal(requestLines.length, 3);
  for (const line of requestLines) {
    assert.match(String(line.request_id), /^[0-9a-f-]{36}$/);
    assert.ok(typeof line.duration_ms === 'number' && typeof line.status === 'number');
  }
  assert.deepEqual(requestLines.map((l) => l.status), [200, 200, 401]);
  const all = t.rawLogs.join('');
  assert.ok(!/should-not-appear/.test(all), 'no text or key in the logs');
});

test('every response above matches /openapi.json (status documented, body valid)', async () => {
  const { checked } = await assertContract();
  assert.ok(checked > 20, `checked ${checked} responses`);
});
