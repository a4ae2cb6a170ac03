// Remote encoder backends against a real embedsync HTTP API (daemon B, tiny model) on loopback, reached
// natively (/embed/batch), through its OpenAI route (/v1/embeddings) and its TEI routes (/info, /embed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { loadConfig, type Env } from '../src/config/index.ts';
import { createEncoder } from '../src/encoder/index.ts';
import { createRemoteEncoder, type RemoteEncoder, type RemoteLogger } from '../src/encoder/remote/index.ts';
import { parseRetryAfter, retryDelayMs, DEFAULT_RETRY_POLICY } from '../src/encoder/remote/retry-policy.ts';
import { planChunks } from '../src/encoder/remote/chunking.ts';
import { CircuitBreaker } from '../src/encoder/remote/circuit-breaker.ts';
import { EncodeError, type Encoder } from '../src/encoder/types.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { maxDiff, startDaemonB, startProxy, type DaemonB, type Proxy } from './helpers/remote-servers.ts';

const FAST = {
  retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100, maxRetryAfterMs: 5000 },
  startupRetry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100, maxRetryAfterMs: 5000 },
  breaker: { failureThreshold: 1, baseOpenMs: 300, maxOpenMs: 1000 },
};

const TEXTS = ['Квартира у метро. Две комнаты, ремонт', 'Office space downtown', 'дом', 'a'.repeat(300), 'Продам гараж'];

let b: DaemonB;
let proxy: Proxy;
before(async () => {
  b = await startDaemonB({ MAX_BATCH_SIZE: '8' });
  proxy = await startProxy(() => b.address);
});
after(async () => {
  await proxy.close();
  await b.close();
});

function remote(env: Env, opts: { fast?: boolean; logger?: RemoteLogger } = { fast: true }): Promise<Encoder> {
  const model = loadConfig({ EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_ENDPOINT: proxy.address, ...env }).model;
  return createRemoteEncoder(model, { ...(opts.fast ?? true ? FAST : {}), ...(opts.logger ? { logger: opts.logger } : {}) });
}

async function expectSame(a: Encoder, texts: readonly string[] = TEXTS): Promise<void> {
  for (const role of ['document', 'query'] as const) {
    const got = await a.encode(texts, role);
    const want = await b.encoder.encode(texts, role);
    assert.ok(maxDiff(got.vectors, want.vectors) <= 1e-6, `${a.info.backend} ${role} vectors equal B's local encode`);
  }
  assert.equal(a.info.dimensions, b.encoder.info.dimensions);
}

const reset = () => {
  proxy.requests.length = 0;
  proxy.peakInFlight = 0;
  proxy.intercept = undefined;
  proxy.transform = undefined;
};

test('embedsync backend: B\'s vectors and B\'s checksum; the role travels so B applies its prompts', async () => {
  reset();
  const a = await createEncoder(loadConfig({
    EMBEDDING_MODEL: 'unused', EMBEDDING_BACKEND: 'embedsync', EMBEDDING_ENDPOINT: proxy.address,
  }).model);
  try {
    await expectSame(a);
    assert.equal(a.info.checksum, b.encoder.info.checksum);
    assert.deepEqual(a.info.prompts, b.encoder.info.prompts);
    assert.equal(a.info.backend, 'embedsync');
    const sent = proxy.requests.filter((r) => r.path === '/embed/batch');
    assert.ok(sent.some((r) => r.body.role === 'query') && sent.some((r) => r.body.role === 'document'));
    assert.ok(sent.every((r) => !(r.body.items as { text: string }[]).some((i) => i.text.startsWith('search_'))),
      'no prompt prepended by A');
  } finally {
    await a.close();
  }
});

test('embedsync backend: a pinned checksum that differs from the remote\'s, or prompts set on this side, fail start-up', async () => {
  await assert.rejects(remote({ EMBEDDING_BACKEND: 'embedsync', EMBEDDING_CHECKSUM: '0000000000000000' }),
    /EMBEDDING_CHECKSUM is 0000000000000000 but the remote serves/);
  await assert.rejects(remote({ EMBEDDING_BACKEND: 'embedsync', EMBEDDING_QUERY_PROMPT: 'q: ' }),
    /EMBEDDING_QUERY_PROMPT .* the remote's prompts apply/);
});

test('openai backend through B\'s /v1/embeddings: the daemon prepends the prompts; ' +
  'identity = model name + prompts, or the pin', async () => {
  reset();
  const a = await remote({ EMBEDDING_BACKEND: 'openai', EMBEDDING_REMOTE_MODEL: 'tiny' });
  const pinned = await remote({ EMBEDDING_BACKEND: 'openai', EMBEDDING_REMOTE_MODEL: 'tiny', EMBEDDING_CHECKSUM: b.encoder.info.checksum });
  const otherPrompt = await remote({ EMBEDDING_BACKEND: 'openai', EMBEDDING_REMOTE_MODEL: 'tiny', EMBEDDING_QUERY_PROMPT: 'query: ' });
  const otherModel = await remote({ EMBEDDING_BACKEND: 'openai', EMBEDDING_REMOTE_MODEL: 'tiny-2' });
  try {
    await expectSame(a);
    await expectSame(pinned);
    const sent = proxy.requests.filter((r) => r.path === '/v1/embeddings');
    assert.ok(sent.length > 0 && sent.every((r) => r.body.model === 'tiny' || r.body.model === 'tiny-2'));
    assert.ok(sent.some((r) => (r.body.input as string[]).every((t) => t.startsWith('search_document: '))), 'prompt prepended by A');
    assert.equal(pinned.info.checksum, b.encoder.info.checksum);
    assert.match(a.info.checksum, /^[0-9a-f]{16}$/);
    assert.equal(new Set([a.info.checksum, otherPrompt.info.checksum, otherModel.info.checksum, pinned.info.checksum]).size, 4,
      'a prompt or model change changes the checksum');
    // Its own query prompt reaches the remote as text: B sees 'query: дом' and embeds it as given.
    const q = await otherPrompt.encode(['дом'], 'query');
    assert.ok(maxDiff(q.vectors, (await b.encoder.encode(['дом'], 'query')).vectors) > 1e-3);
  } finally {
    await Promise.all([a.close(), pinned.close(), otherPrompt.close(), otherModel.close()]);
  }
});

test('tei backend through B\'s /info and /embed: prompts by prompt_name or prepended; batches within max_client_batch_size; ' +
  'N requests in flight', async () => {
  reset();
  const prepend = await remote({ EMBEDDING_BACKEND: 'tei', EMBEDDING_CONCURRENCY: '3' });
  const named = await remote({ EMBEDDING_BACKEND: 'tei', EMBEDDING_PROMPT_NAMES: 'query:query,document:document' });
  try {
    await expectSame(prepend);
    await expectSame(named);
    assert.notEqual(prepend.info.checksum, named.info.checksum);
    const sent = proxy.requests.filter((r) => r.path === '/embed');
    assert.ok(sent.some((r) => r.body.prompt_name === 'query') && sent.some((r) => r.body.prompt_name === 'document'));
    assert.ok(sent.filter((r) => r.body.prompt_name === undefined)
      .every((r) => (r.body.inputs as string[]).every((t) => t.startsWith('search_'))));

    proxy.requests.length = 0;
    proxy.peakInFlight = 0;
    const many = Array.from({ length: 100 }, (_, i) => `строка номер ${i} ${'x'.repeat(i % 17)}`);
    const got = await prepend.encode(many, 'document');
    assert.ok(maxDiff(got.vectors, (await b.encoder.encode(many, 'document')).vectors) <= 1e-6);
    assert.ok(proxy.requests.every((r) => r.items <= 8), 'B\'s /info says max_client_batch_size 8');
    assert.equal(proxy.requests.reduce((n, r) => n + r.items, 0), 100);
    assert.ok(proxy.peakInFlight <= 3, `at most EMBEDDING_CONCURRENCY=3 in flight, saw ${proxy.peakInFlight}`);
    assert.ok(proxy.peakInFlight >= 2, `requests overlap, saw ${proxy.peakInFlight}`);
  } finally {
    await Promise.all([prepend.close(), named.close()]);
  }
});

test('one input the remote refuses: reason input with its index; through a whole-request 4xx the batch is bisected', async () => {
  reset();
  const texts = ['fine one', 'fine two', 'bad \u0000 nul', 'fine three', 'fine four'];
  const native = await remote({ EMBEDDING_BACKEND: 'embedsync' });
  const openai = await remote({ EMBEDDING_BACKEND: 'openai', EMBEDDING_CONCURRENCY: '1' });
  try {
    for (const a of [native, openai]) {
      const err = await a.encode(texts, 'document').then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof EncodeError, String(err));
      assert.equal(err.reason, 'input');
      assert.equal(err.index, 2);
      assert.match(err.message, /NUL/);
      // The others still encode, and the remote is not considered down.
      const rest = await a.encode(texts.filter((_, i) => i !== 2), 'document');
      assert.equal(rest.vectors.length, 4);
      assert.equal(a.availability!.open, false);
    }
    const openaiCalls = proxy.requests.filter((r) => r.path === '/v1/embeddings' && r.items < 5 && r.status === 400);
    assert.ok(openaiCalls.some((r) => r.items === 1), 'bisected down to the single bad input');
  } finally {
    await Promise.all([native.close(), openai.close()]);
  }
});

test('429 with Retry-After: the next attempt waits as told, then succeeds', async () => {
  reset();
  const a = await remote({ EMBEDDING_BACKEND: 'embedsync', EMBEDDING_CONCURRENCY: '1' });
  try {
    proxy.requests.length = 0; // the start-up probe
    let refused = 0;
    proxy.intercept = (r) => {
      if (r.path !== '/embed/batch' || refused >= 1) return undefined;
      refused += 1;
      return { status: 429, headers: { 'retry-after': '1' }, body: { detail: 'rate limit exceeded' } };
    };
    const started = Date.now();
    const got = await a.encode(['дом', 'сад'], 'document');
    assert.ok(maxDiff(got.vectors, (await b.encoder.encode(['дом', 'сад'], 'document')).vectors) <= 1e-6);
    const sent = proxy.requests.filter((r) => r.path === '/embed/batch');
    assert.equal(sent[0]!.status, 429);
    assert.equal(sent[1]!.status, 200);
    assert.ok(sent[1]!.at - sent[0]!.at >= 1000, `waited ${sent[1]!.at - sent[0]!.at} ms after Retry-After: 1`);
    assert.ok(Date.now() - started < 6000, 'one wait, not several');
  } finally {
    await a.close();
  }
});

test('remote down: reason unavailable after the retries, then the breaker fails fast without a request; ' +
  'back up → it recovers', async () => {
  reset();
  const events: Record<string, unknown>[] = [];
  const logger: RemoteLogger = {
    warn: (o) => events.push(o as Record<string, unknown>), info: (o) => events.push(o as Record<string, unknown>),
  };
  const a = await remote({ EMBEDDING_BACKEND: 'embedsync' }, { logger });
  try {
    await b.stop();
    const e1 = await a.encode(['дом'], 'document').then(() => undefined, (e: unknown) => e);
    assert.ok(e1 instanceof EncodeError && e1.reason === 'unavailable', String(e1));
    assert.equal(a.availability!.open, true);
    assert.ok(a.availability!.retryInMs() > 0);
    const before = proxy.requests.length;
    const t0 = performance.now();
    const e2 = await a.encode(['дом'], 'document').then(() => undefined, (e: unknown) => e);
    assert.ok(e2 instanceof EncodeError && e2.reason === 'unavailable' && /circuit open/.test(e2.message), String(e2));
    assert.ok(performance.now() - t0 < 250, 'fails fast while open');
    assert.equal(proxy.requests.length, before, 'no request while open');
    await b.start();
    await new Promise((r) => setTimeout(r, a.availability!.retryInMs() + 20));
    const ok = await a.encode(['дом'], 'document');
    assert.ok(maxDiff(ok.vectors, (await b.encoder.encode(['дом'], 'document')).vectors) <= 1e-6);
    assert.equal(a.availability!.open, false);
    assert.deepEqual(events.map((e) => e.event), ['remote_encoder_unavailable', 'remote_encoder_recovered']);
    assert.match(String(events[0]!.error), /POST \/embed\/batch: /);
  } finally {
    await b.start().catch(() => undefined);
    await a.close();
  }
});

test('vectors the remote did not normalize are normalized here; unit ones are kept bit for bit', async () => {
  reset();
  const a = await remote({ EMBEDDING_BACKEND: 'openai' }) as RemoteEncoder;
  try {
    const plain = await a.encode(TEXTS, 'document');
    assert.equal(a.normalizedCount, 0);
    proxy.transform = (path, body) => {
      const data = (body as { data: { embedding: string }[] }).data;
      for (const d of data) {
        const buf = Buffer.from(d.embedding, 'base64');
        for (let i = 0; i < buf.length; i += 4) buf.writeFloatLE(buf.readFloatLE(i) * 3.5, i);
        d.embedding = buf.toString('base64');
      }
      return body;
    };
    const scaled = await a.encode(TEXTS, 'document');
    assert.equal(a.normalizedCount, TEXTS.length);
    assert.ok(maxDiff(scaled.vectors, plain.vectors) <= 1e-6);
    for (const v of scaled.vectors) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-6);
  } finally {
    await a.close();
  }
});

test('a wrong dimension or a changed remote model is reported as unavailable (nothing the rows did) and opens the breaker', async () => {
  reset();
  const tei = await remote({ EMBEDDING_BACKEND: 'tei' });
  const native = await remote({ EMBEDDING_BACKEND: 'embedsync' });
  try {
    proxy.transform = (path, body) => (path === '/embed' ? (body as number[][]).map((v) => v.slice(0, 32)) : body);
    const e1 = await tei.encode(['дом'], 'document').then(() => undefined, (e: unknown) => e);
    assert.ok(e1 instanceof EncodeError && e1.reason === 'unavailable' &&
      /32-dimension vector; this daemon started with 64/.test(e1.message), String(e1));
    assert.equal(tei.availability!.open, true);
    proxy.transform = (path, body) => (path === '/embed/batch' ? { ...(body as object), model_checksum: 'ffffffffffffffff' } : body);
    const e2 = await native.encode(['дом'], 'document').then(() => undefined, (e: unknown) => e);
    assert.ok(e2 instanceof EncodeError && e2.reason === 'unavailable' &&
      /now serves model_checksum ffffffffffffffff/.test(e2.message), String(e2));
  } finally {
    await Promise.all([tei.close(), native.close()]);
  }
});

test('start-up fails with the address when the remote is unreachable or the key is wrong', async () => {
  const model = loadConfig({ EMBEDDING_BACKEND: 'tei', EMBEDDING_ENDPOINT: 'http://127.0.0.1:9' }).model;
  await assert.rejects(createRemoteEncoder(model, FAST), /remote encoder at http:\/\/127\.0\.0\.1:9 is not reachable/);
  const keyed = await startDaemonB({ API_KEY: 'right' });
  try {
    const bad = loadConfig({ EMBEDDING_BACKEND: 'embedsync', EMBEDDING_ENDPOINT: keyed.address, EMBEDDING_API_KEY: 'wrong' }).model;
    await assert.rejects(createRemoteEncoder(bad, FAST), /HTTP 401.*EMBEDDING_API_KEY/);
    const good = await createRemoteEncoder({ ...bad, apiKey: 'right' }, FAST);
    assert.equal(good.info.checksum, keyed.encoder.info.checksum);
    await good.close();
  } finally {
    await keyed.close();
  }
});

test('retry policy, chunk plan and breaker in isolation', () => {
  assert.equal(parseRetryAfter('2'), 2000);
  assert.equal(parseRetryAfter(new Date(10_000 + 3000).toUTCString(), 10_000), 3000);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.ok(retryDelayMs(DEFAULT_RETRY_POLICY, 0, 1500, () => 0.999) >= 1500);
  for (let attempt = 0; attempt < 10; attempt++) {
    const d = retryDelayMs(DEFAULT_RETRY_POLICY, attempt, undefined);
    assert.ok(d >= Math.min(DEFAULT_RETRY_POLICY.maxDelayMs, 100 * 2 ** attempt) / 2 && d <= DEFAULT_RETRY_POLICY.maxDelayMs);
  }
  const chunks = planChunks(Array.from({ length: 100 }, () => 10), { maxItems: 32, maxBytes: 150 }, 2);
  assert.ok(chunks.every(([f, t]) => t - f <= 15), 'byte limit splits');
  assert.equal(chunks.at(-1)![1], 100);
  assert.deepEqual(planChunks([10, 10, 10, 10], { maxItems: 100, maxBytes: 1e9 }, 4, 1), [[0, 1], [1, 2], [2, 3], [3, 4]]);
  let now = 0;
  const br = new CircuitBreaker({ failureThreshold: 2, baseOpenMs: 100, maxOpenMs: 300, now: () => now });
  br.failure('x');
  assert.equal(br.state, 'closed');
  br.failure('x');
  assert.equal(br.state, 'open');
  assert.equal(br.retryInMs(), 100);
  now = 100;
  assert.equal(br.state, 'half-open');
  br.failure('y', 250); // the probe failed, with a Retry-After
  assert.equal(br.retryInMs(), 250);
  now = 400;
  br.success();
  assert.equal(br.state, 'closed');
});

test('remote settings are validated at start-up with the others', () => {
  const names = loadConfig({
    EMBEDDING_BACKEND: 'tei', EMBEDDING_ENDPOINT: 'http://tei:80', EMBEDDING_PROMPT_NAMES: 'query:search_query, document=search_document',
  }).model;
  assert.deepEqual(names.promptNames, { query: 'search_query', document: 'search_document' });
  assert.throws(() => loadConfig({
    EMBEDDING_BACKEND: 'openai', EMBEDDING_PROMPT_NAMES: 'query:q', EMBEDDING_REMOTE_BATCH_SIZE: '0', EMBEDDING_REMOTE_TIMEOUT_SECONDS: 'x',
  }), (err: Error) => {
    for (const needle of ['EMBEDDING_ENDPOINT is required when EMBEDDING_BACKEND=openai',
      'EMBEDDING_PROMPT_NAMES must name a prompt for both',
      'EMBEDDING_PROMPT_NAMES applies to EMBEDDING_BACKEND=tei only', 'EMBEDDING_REMOTE_BATCH_SIZE', 'EMBEDDING_REMOTE_TIMEOUT_SECONDS']) {
      assert.ok(err.message.includes(needle), `${needle} in ${err.message}`);
    }
    return true;
  });
});

test('a daemon started before its remote waits for it (identity and probe are retried at start-up)', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const starting = Promise.all(['embedsync', 'openai'].map((backend) =>
    createRemoteEncoder(loadConfig({ EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_BACKEND: backend, EMBEDDING_ENDPOINT: endpoint }).model)));
  await new Promise((r) => setTimeout(r, 800));
  const late = await startDaemonB({ PORT: String(port) });
  try {
    const [native, openai] = await starting;
    assert.equal(native!.info.checksum, late.encoder.info.checksum);
    assert.equal(openai!.info.dimensions, late.encoder.info.dimensions);
    await Promise.all([native!.close(), openai!.close()]);
  } finally {
    await late.close();
  }
});
