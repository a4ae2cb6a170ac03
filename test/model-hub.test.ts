// Hub downloads against a real local HTTP server serving the test model in the hub's URL layout
// (/{repo}/resolve/{revision}/{file}), including connections cut mid-file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config/index.ts';
import { createEncoder } from '../src/encoder/index.ts';
import { createLocalEncoder } from '../src/encoder/local-encoder.ts';
import { cachedModelDir, downloadModel, HubDownloadError, HubUnreachableError, parseHubId } from '../src/model/hub-download.ts';
import { TINY_MODEL_DIR } from '../src/model/tiny-model.ts';

interface Hub {
  /** repo → file → bytes */
  repos: Map<string, Map<string, Buffer>>;
  log: { url: string; range: string | undefined }[];
  /** file name → how many more GETs to cut off half-way */
  cut: Map<string, number>;
  ignoreRange: boolean;
  /** file name → how many more GETs to stall (half the body, then silence) */
  stall: Map<string, number>;
}

const hub: Hub = { repos: new Map(), log: [], cut: new Map(), ignoreRange: false, stall: new Map() };
let server: Server;
let endpoint: string;
let scratch: string;

async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) files.set(relative(dir, join(e.parentPath, e.name)), await readFile(join(e.parentPath, e.name)));
  }
  return files;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'embedsync-hub-'));
  const tiny = await readTree(TINY_MODEL_DIR);
  hub.repos.set('embedsync/tiny', tiny);
  hub.repos.set('embedsync/checkpoint-only', new Map([...tiny].filter(([f]) => !f.startsWith('onnx/'))));
  server = createServer((req, res) => {
    hub.log.push({ url: req.url ?? '', range: req.headers.range });
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    const body = m && m[2] === 'main' ? hub.repos.get(m[1]!)?.get(decodeURIComponent(m[3]!)) : undefined;
    if (!m || !body) {
      res.writeHead(404).end('Entry not found');
      return;
    }
    const file = decodeURIComponent(m[3]!);
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = range && !hub.ignoreRange ? Number(range[1]) : 0;
    const slice = body.subarray(from);
    res.writeHead(range && !hub.ignoreRange ? 206 : 200, {
      'content-length': slice.length,
      ...(range && !hub.ignoreRange ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    });
    const stalls = hub.stall.get(file) ?? 0;
    if (stalls > 0) {
      hub.stall.set(file, stalls - 1);
      res.write(slice.subarray(0, Math.floor(slice.length / 2)));
      return;
    }
    const cuts = hub.cut.get(file) ?? 0;
    if (cuts > 0) {
      hub.cut.set(file, cuts - 1);
      res.write(slice.subarray(0, Math.floor(slice.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await rm(scratch, { recursive: true, force: true });
});

const opts = (cacheDir: string, extra: Partial<Parameters<typeof downloadModel>[1]> = {}) =>
  ({ endpoint, cacheDir, dtype: 'fp32' as const, retryDelayMs: 5, ...extra });

async function assertNoPartFiles(dir: string): Promise<void> {
  const files = await readdir(dir, { recursive: true });
  assert.deepEqual(files.filter((f) => f.endsWith('.part')), []);
}

test('hub ids parse; paths do not', () => {
  assert.deepEqual(parseHubId('ai-forever/ru-en-RoSBERTa'), { repo: 'ai-forever/ru-en-RoSBERTa', revision: 'main' });
  assert.deepEqual(parseHubId('org/name@v1.0'), { repo: 'org/name', revision: 'v1.0' });
  for (const s of ['./models/x', '/abs/path', 'a/b/c', 'name', '../x', 'a/..']) assert.equal(parseHubId(s), undefined, s);
});

test('download resumes a file cut mid-way with a Range request and draws progress on a TTY only', async () => {
  const cacheDir = join(scratch, 'resume');
  hub.log.length = 0;
  hub.cut.set('onnx/model.onnx', 1);
  const drawn: string[] = [];
  const dir = await downloadModel({ repo: 'embedsync/tiny', revision: 'main' }, opts(cacheDir, { progress: { isTTY: true, write: (s) => drawn.push(s) } }));
  assert.equal(dir, cachedModelDir(cacheDir, { repo: 'embedsync/tiny', revision: 'main' }));
  const onnxGets = hub.log.filter((l) => l.url.endsWith('/onnx/model.onnx'));
  assert.equal(onnxGets.length, 2);
  assert.match(onnxGets[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
  for (const f of ['onnx/model.onnx', 'tokenizer.json', '1_Pooling/config.json', 'config_sentence_transformers.json', 'modules.json']) {
    assert.ok((await readFile(join(dir, f))).equals(hub.repos.get('embedsync/tiny')!.get(f)!), f);
  }
  await assertNoPartFiles(dir);
  assert.ok(drawn.some((s) => s.includes('onnx/model.onnx') && s.includes('100%')));
  // Cached: no further requests, and nothing drawn on a non-TTY.
  hub.log.length = 0;
  const quiet: string[] = [];
  await downloadModel({ repo: 'embedsync/tiny', revision: 'main' }, opts(cacheDir, { progress: { isTTY: false, write: (s) => quiet.push(s) } }));
  assert.equal(hub.log.length, 0);
  assert.deepEqual(quiet, []);
  const a = await createLocalEncoder({ dir, dtype: 'fp32', threads: 1, maxBatchTokens: 4096 });
  const b = await createLocalEncoder({ dir: TINY_MODEL_DIR, dtype: 'fp32', threads: 1, maxBatchTokens: 4096 });
  assert.equal(a.info.checksum, b.info.checksum);
  await Promise.all([a.close(), b.close()]);
});

test('a broken download leaves only a .part file; the next start resumes it, or restarts when the server ignores Range', async () => {
  for (const ignoreRange of [false, true]) {
    const cacheDir = join(scratch, `broken-${ignoreRange}`);
    const id = { repo: 'embedsync/tiny', revision: 'main' };
    hub.cut.set('onnx/model.onnx', 1);
    await assert.rejects(downloadModel(id, opts(cacheDir, { attempts: 1 })), HubUnreachableError);
    const dir = cachedModelDir(cacheDir, id);
    await assert.rejects(stat(join(dir, 'onnx/model.onnx')), /ENOENT/);
    const partial = (await stat(join(dir, 'onnx/model.onnx.part'))).size;
    assert.ok(partial > 0 && partial < hub.repos.get('embedsync/tiny')!.get('onnx/model.onnx')!.length);
    hub.ignoreRange = ignoreRange;
    hub.log.length = 0;
    try {
      await downloadModel(id, opts(cacheDir));
    } finally {
      hub.ignoreRange = false;
    }
    assert.equal(hub.log.find((l) => l.url.endsWith('onnx/model.onnx'))?.range, `bytes=${partial}-`);
    assert.ok((await readFile(join(dir, 'onnx/model.onnx'))).equals(hub.repos.get('embedsync/tiny')!.get('onnx/model.onnx')!));
    await assertNoPartFiles(dir);
  }
});

test('a body that stops flowing is abandoned after the stall timeout and resumed', async () => {
  const cacheDir = join(scratch, 'stall');
  hub.log.length = 0;
  hub.stall.set('tokenizer.json', 1);
  const dir = await downloadModel({ repo: 'embedsync/tiny', revision: 'main' }, opts(cacheDir, { stallTimeoutMs: 300 }));
  const gets = hub.log.filter((l) => l.url.endsWith('/tokenizer.json'));
  assert.equal(gets.length, 2);
  assert.match(gets[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
  assert.ok((await readFile(join(dir, 'tokenizer.json'))).equals(hub.repos.get('embedsync/tiny')!.get('tokenizer.json')!));
});

test('unreachable hub and unknown repo give distinct errors', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  await assert.rejects(
    downloadModel({ repo: 'embedsync/tiny', revision: 'main' }, { ...opts(join(scratch, 'down')), endpoint: `http://127.0.0.1:${port}`, attempts: 2 }),
    (err: unknown) => err instanceof HubUnreachableError && /cannot reach/.test(err.message));
  await assert.rejects(downloadModel({ repo: 'embedsync/missing', revision: 'main' }, opts(join(scratch, 'missing'))),
    (err: unknown) => err instanceof HubDownloadError && /404/.test(err.message));
  await assert.rejects(downloadModel({ repo: 'embedsync/tiny', revision: 'main' }, opts(join(scratch, 'int8'), { dtype: 'int8' })),
    (err: unknown) => err instanceof HubDownloadError && /model_quantized\.onnx/.test(err.message));
});

test('a repo with only model.safetensors is converted on first use; EMBEDDING_MODEL takes a hub id', async () => {
  const cacheDir = join(scratch, 'import');
  const cfg = loadConfig({ EMBEDDING_MODEL: 'embedsync/checkpoint-only', HF_ENDPOINT: endpoint, EMBEDSYNC_CACHE_DIR: cacheDir, EMBEDDING_THREADS: '1' });
  const imported = await createEncoder(cfg.model);
  const reference = await createLocalEncoder({ dir: TINY_MODEL_DIR, dtype: 'fp32', threads: 1, maxBatchTokens: 4096 });
  try {
    assert.equal(imported.info.name, 'embedsync/checkpoint-only');
    const texts = ['Новая заявка', 'delivery to Moscow'];
    const [a, b] = [await imported.encode(texts, 'document'), await reference.encode(texts, 'document')];
    a.vectors.forEach((v, i) => assert.ok(v.every((x, j) => Math.abs(x - b.vectors[i]![j]!) <= 1e-6)));
  } finally {
    await Promise.all([imported.close(), reference.close()]);
  }
});
