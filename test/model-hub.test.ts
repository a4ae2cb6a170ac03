// Hub downloads against a real local HTTP server serving the test model in the hub's URL layout
// (/{repo}/resolve/{revision}/{file}), including connections cut mid-file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Dtype } from '../src/config/index.ts';
import { modelCommand } from '../src/cli/model.ts';
import { createEncoder, type Encoder } from '../src/encoder/index.ts';
import { createLocalEncoder } from '../src/encoder/local-encoder.ts';
import { cachedModelDir, downloadModel, HubDownloadError, HubUnreachableError, parseHubId } from '../src/model/hub-download.ts';
import { parseSafetensors, toFloat32, writeSafetensors, type TensorToWrite } from '../src/model/safetensors.ts';
import { TINY_CORPUS } from '../src/model/tiny-corpus.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';

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

/** The checkpoint split as the hub publishes large models: model-0000k-of-0000n.safetensors + an index. */
function shardCheckpoint(bytes: Buffer, count: number): Map<string, Buffer> {
  const { tensors } = parseSafetensors(bytes);
  const names = [...tensors.keys()].sort();
  const files = new Map<string, Buffer>();
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < count; s++) {
    const file = `model-0000${s + 1}-of-0000${count}.safetensors`;
    const part = names.filter((_, i) => i % count === s);
    for (const n of part) weightMap[n] = file;
    const toWrite = part.map((n) => {
      const t = tensors.get(n)!;
      return [n, { dtype: t.dtype as TensorToWrite['dtype'], shape: t.shape, data: toFloat32(t) }] as const;
    });
    files.set(file, Buffer.from(writeSafetensors(new Map(toWrite))));
  }
  files.set('model.safetensors.index.json', Buffer.from(JSON.stringify({ metadata: { total_size: bytes.length }, weight_map: weightMap })));
  return files;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'embedsync-hub-'));
  const tiny = await readTree(TINY_MODEL_DIR);
  hub.repos.set('embedsync/tiny', tiny);
  const checkpointOnly = new Map([...tiny].filter(([f]) => !f.startsWith('onnx/')));
  hub.repos.set('embedsync/checkpoint-only', checkpointOnly);
  hub.repos.set('embedsync/onnx-only', new Map([...tiny].filter(([f]) => f !== 'model.safetensors')));
  hub.repos.set('embedsync/no-weights', new Map([...checkpointOnly].filter(([f]) => f !== 'model.safetensors')));
  hub.repos.set('embedsync/sharded',
    new Map([...hub.repos.get('embedsync/no-weights')!, ...shardCheckpoint(tiny.get('model.safetensors')!, 3)]));
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
  const dir = await downloadModel({ repo: 'embedsync/tiny', revision: 'main' },
    opts(cacheDir, { progress: { isTTY: true, write: (s) => drawn.push(s) } }));
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
  await downloadModel({ repo: 'embedsync/tiny', revision: 'main' },
    opts(cacheDir, { progress: { isTTY: false, write: (s) => quiet.push(s) } }));
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
    downloadModel({ repo: 'embedsync/tiny', revision: 'main' },
      { ...opts(join(scratch, 'down')), endpoint: `http://127.0.0.1:${port}`, attempts: 2 }),
    (err: unknown) => err instanceof HubUnreachableError && /cannot reach/.test(err.message));
  await assert.rejects(downloadModel({ repo: 'embedsync/missing', revision: 'main' }, opts(join(scratch, 'missing'))),
    (err: unknown) => err instanceof HubDownloadError && /404/.test(err.message));
});

test('a repo with nothing to import from says exactly what it lacks', async () => {
  const cases = [
    ['embedsync/onnx-only', 'int8', /ships onnx\/model\.onnx \(fp32\) but neither onnx\/model_quantized\.onnx nor a safetensors checkpoint \(model\.safetensors or model\.safetensors\.index\.json\) to quantize from; .*EMBEDDING_DTYPE=fp32/],
    ['embedsync/no-weights', 'int8', /has neither onnx\/model_quantized\.onnx, onnx\/model\.onnx nor a safetensors checkpoint/],
    ['embedsync/no-weights', 'fp32',
      /has neither onnx\/model\.onnx nor a safetensors checkpoint \(model\.safetensors or model\.safetensors\.index\.json\)/],
  ] as const;
  for (const [repo, dtype, message] of cases) {
    await assert.rejects(downloadModel({ repo, revision: 'main' }, opts(join(scratch, `lacks-${dtype}`), { dtype })),
      (err: unknown) => err instanceof HubDownloadError && message.test(err.message), `${repo} ${dtype}`);
  }
  // The fp32 file of the ONNX-only repo still serves EMBEDDING_DTYPE=fp32.
  const dir = await downloadModel({ repo: 'embedsync/onnx-only', revision: 'main' }, opts(join(scratch, 'lacks-int8')));
  assert.ok((await readFile(join(dir, 'onnx/model.onnx'))).equals(hub.repos.get('embedsync/tiny')!.get('onnx/model.onnx')!));
});

test('a repo with only model.safetensors is converted on first use; EMBEDDING_MODEL takes a hub id', async () => {
  const cacheDir = join(scratch, 'import');
  const cfg = loadConfig({
    EMBEDDING_MODEL: 'embedsync/checkpoint-only', HF_ENDPOINT: endpoint, EMBEDSYNC_CACHE_DIR: cacheDir, EMBEDDING_THREADS: '1',
  });
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

const TEXTS = TINY_CORPUS.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 40);
const modelConfig = (repo: string, cacheDir: string, dtype: Dtype) => loadConfig({
  EMBEDDING_MODEL: repo, EMBEDDING_DTYPE: dtype, HF_ENDPOINT: endpoint, EMBEDSYNC_CACHE_DIR: cacheDir, EMBEDDING_THREADS: '1',
}).model;
const gets = (suffix: string) => hub.log.filter((l) => l.url.endsWith(suffix));
const weightGets = () => hub.log.filter((l) => /\.safetensors$|\.onnx$/.test(l.url));
/** GETs of safetensors files other than the probe for a single model.safetensors. */
const shardGets = () => hub.log.filter((l) => l.url.endsWith('.safetensors') && !l.url.endsWith('/resolve/main/model.safetensors'));
const exists = (path: string) => stat(path).then(() => true, () => false);

async function vectors(encoder: Encoder): Promise<number[][]> {
  return (await encoder.encode(TEXTS, 'document')).vectors.map((v) => [...v]);
}

function assertClose(a: number[][], b: number[][], tolerance: number, label: string): void {
  assert.equal(a.length, b.length);
  a.forEach((v, i) => assert.ok(v.every((x, j) => Math.abs(x - b[i]![j]!) <= tolerance), `${label}: text ${i}`));
}

test('EMBEDDING_DTYPE=int8 imports a checkpoint-only repo with int8 on first use; later starts and fp32 reuse the cache', async (t) => {
  const cacheDir = join(scratch, 'int8-first');
  const dir = cachedModelDir(cacheDir, { repo: 'embedsync/checkpoint-only', revision: 'main' });
  const reference = await createLocalEncoder({ dir: TINY_MODEL_DIR, dtype: 'fp32', threads: 1, maxBatchTokens: 4096 });
  const fp32Vectors = await vectors(reference);
  await reference.close();

  hub.log.length = 0;
  const int8 = await createEncoder(modelConfig('embedsync/checkpoint-only', cacheDir, 'int8'));
  let int8Checksum: string;
  try {
    assert.equal(int8.info.file, 'onnx/model_quantized.onnx');
    int8Checksum = int8.info.checksum;
    assert.equal(gets('/model.safetensors').length, 1);
    // Only the file asked for is written; fp32 is imported when it is first asked for.
    assert.equal(await exists(join(dir, 'onnx/model.onnx')), false);
    // The int8 quality gate of test/import.test.ts, per text and on average; and really quantized.
    const cosines = (await vectors(int8)).map((v, i) => v.reduce((s, x, j) => s + x * fp32Vectors[i]![j]!, 0));
    const mean = cosines.reduce((a, b) => a + b, 0) / cosines.length;
    t.diagnostic(`int8 vs fp32 over ${cosines.length} texts: mean cosine ${mean.toFixed(5)}, min ${Math.min(...cosines).toFixed(5)}`);
    assert.ok(mean >= 0.99 && Math.min(...cosines) >= 0.97, `mean ${mean}, min ${Math.min(...cosines)}`);
    assert.ok(mean < 0.999999, `int8 vectors equal fp32 ones (mean cosine ${mean}): the quantized file was not used`);
  } finally {
    await int8.close();
  }
  const int8Bytes = await readFile(join(dir, 'onnx/model_quantized.onnx'));

  // Second start: served from the cache, no request at all.
  hub.log.length = 0;
  const again = await createEncoder(modelConfig('embedsync/checkpoint-only', cacheDir, 'int8'));
  assert.equal(again.info.checksum, int8Checksum);
  await again.close();
  assert.deepEqual(hub.log, []);

  // fp32 later in the same cache: imported from the checkpoint kept there, no weights fetched again.
  hub.log.length = 0;
  const fp32 = await createEncoder(modelConfig('embedsync/checkpoint-only', cacheDir, 'fp32'));
  try {
    assert.equal(fp32.info.file, 'onnx/model.onnx');
    assert.deepEqual(weightGets().map((l) => l.url), ['/embedsync/checkpoint-only/resolve/main/onnx/model.onnx'],
      'only the 404 for the ONNX file');
    assertClose(await vectors(fp32), fp32Vectors, 1e-6, 'fp32 after int8');
  } finally {
    await fp32.close();
  }
  assert.ok((await readFile(join(dir, 'onnx/model_quantized.onnx'))).equals(int8Bytes), 'the int8 file is left as it was');
  await assertNoPartFiles(dir);
});

test('fp32 first use, then int8: the checkpoint is fetched again only when it was removed; ' +
  'a repo\'s own model.onnx is never replaced', async () => {
  const cacheDir = join(scratch, 'fp32-first');
  const single = { repo: 'embedsync/checkpoint-only', revision: 'main' };
  const dir = await downloadModel(single, opts(cacheDir));
  const fp32Bytes = await readFile(join(dir, 'onnx/model.onnx'));
  assert.equal(await exists(join(dir, 'onnx/model_quantized.onnx')), false);
  await rm(join(dir, 'model.safetensors'));
  hub.log.length = 0;
  assert.equal(await downloadModel(single, opts(cacheDir, { dtype: 'int8' })), dir);
  assert.equal(gets('/model.safetensors').length, 1);
  assert.ok((await readFile(join(dir, 'onnx/model.onnx'))).equals(fp32Bytes), 'fp32 file untouched by the int8 import');
  const int8Bytes = await readFile(join(dir, 'onnx/model_quantized.onnx'));

  // A repo shipping model.onnx and a checkpoint: int8 quantizes the checkpoint without fetching the fp32
  // ONNX; fp32 later gets the repo's own file (the checksum other machines see), not an import.
  const withOnnx = { repo: 'embedsync/tiny', revision: 'main' };
  hub.log.length = 0;
  const tinyDir = await downloadModel(withOnnx, opts(cacheDir, { dtype: 'int8' }));
  assert.deepEqual(gets('/onnx/model.onnx'), []);
  assert.equal(await exists(join(tinyDir, 'onnx/model.onnx')), false);
  assert.ok((await readFile(join(tinyDir, 'onnx/model_quantized.onnx'))).equals(int8Bytes), 'the import is deterministic');
  await downloadModel(withOnnx, opts(cacheDir));
  assert.ok((await readFile(join(tinyDir, 'onnx/model.onnx'))).equals(hub.repos.get('embedsync/tiny')!.get('onnx/model.onnx')!));
});

test('a sharded checkpoint downloads every shard its index names, resumes a shard cut mid-way, ' +
  'and imports like the single file', async () => {
  const cacheDir = join(scratch, 'sharded');
  const served = hub.repos.get('embedsync/sharded')!;
  const shards = [...served.keys()].filter((f) => f.endsWith('.safetensors')).sort();
  assert.equal(shards.length, 3);
  hub.log.length = 0;
  hub.cut.set(shards[1]!, 1);
  const drawn: string[] = [];
  const sharded = await createEncoder(modelConfig('embedsync/sharded', cacheDir, 'fp32'),
    { progress: { isTTY: true, write: (s) => drawn.push(s) } });
  const reference = await createLocalEncoder({ dir: TINY_MODEL_DIR, dtype: 'fp32', threads: 1, maxBatchTokens: 4096 });
  try {
    assertClose(await vectors(sharded), await vectors(reference), 1e-6, 'sharded fp32');
  } finally {
    await Promise.all([sharded.close(), reference.close()]);
  }
  const dir = cachedModelDir(cacheDir, { repo: 'embedsync/sharded', revision: 'main' });
  for (const shard of shards) {
    assert.ok((await readFile(join(dir, shard))).equals(served.get(shard)!), shard);
    assert.ok(drawn.some((s) => s.includes(shard) && s.includes('100%')), `progress for ${shard}`);
  }
  const cut = gets(`/${shards[1]}`);
  assert.equal(cut.length, 2);
  assert.match(cut[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
  assert.deepEqual([shards[0], shards[2]].map((f) => gets(`/${f}`).length), [1, 1]);
  await assertNoPartFiles(dir);

  // int8 from the shards: the same bytes as from the single file.
  hub.log.length = 0;
  await downloadModel({ repo: 'embedsync/sharded', revision: 'main' }, opts(cacheDir, { dtype: 'int8' }));
  assert.deepEqual(shardGets(), [], 'shards are kept in the cache');
  const singleDir = await downloadModel({ repo: 'embedsync/checkpoint-only', revision: 'main' }, opts(cacheDir, { dtype: 'int8' }));
  await downloadModel({ repo: 'embedsync/checkpoint-only', revision: 'main' }, opts(cacheDir));
  for (const f of ['onnx/model.onnx', 'onnx/model_quantized.onnx']) {
    assert.ok((await readFile(join(dir, f))).equals(await readFile(join(singleDir, f))), f);
  }
});

test('model import <hub id> imports a sharded repo into the cache and copies the loadable folder to --out', async () => {
  const cacheDir = join(scratch, 'cli-sharded');
  const out = join(scratch, 'cli-sharded-out');
  const printed: string[] = [];
  const logged: string[] = [];
  const ctx = {
    argv: ['import', 'embedsync/sharded', '--out', out, '--quantize', 'int8'], env: {}, cores: 1, cwd: scratch,
    config: () => loadConfig({ HF_ENDPOINT: endpoint, EMBEDSYNC_CACHE_DIR: cacheDir, EMBEDDING_THREADS: '1' }),
    stdout: { write: (s: string) => printed.push(s) }, stderr: { write: (s: string) => logged.push(s) },
    signal: new AbortController().signal,
  };
  assert.equal(await modelCommand(ctx), 0);
  assert.match(printed.join(''), /wrote .*onnx\/model\.onnx .*\n.*wrote .*onnx\/model_quantized\.onnx/);
  assert.match(printed.join(''), /imported roberta \(2 layers, hidden 64\) into .*cli-sharded-out/);
  assert.match(logged.join(''), /from model\.safetensors\.index\.json, model-00001-of-00003\.safetensors/);
  const outFiles = (await readdir(out, { recursive: true })).map(String);
  assert.ok(!outFiles.some((f) => f.endsWith('.safetensors') || f.endsWith('.index.json') || f.startsWith('.complete')),
    outFiles.join(', '));
  for (const dtype of ['fp32', 'int8'] as const) {
    const e = await createLocalEncoder({ dir: out, dtype, threads: 1, maxBatchTokens: 4096 });
    assert.equal(e.info.file, dtype === 'int8' ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx');
    await e.close();
  }
  // Run again: everything is in the cache, nothing is fetched or imported.
  hub.log.length = 0;
  printed.length = 0;
  assert.equal(await modelCommand({ ...ctx, argv: ['import', 'embedsync/sharded', '--quantize', 'int8'] }), 0);
  assert.deepEqual(hub.log, []);
  assert.match(printed.join(''), /nothing to import/);
});

test('a shard index naming anything but plain *.safetensors files in the model folder is refused before any shard is fetched', async () => {
  const good = hub.repos.get('embedsync/sharded')!;
  const index = JSON.parse(good.get('model.safetensors.index.json')!.toString()) as { weight_map: Record<string, string> };
  const firstTensor = Object.keys(index.weight_map).sort()[0]!;
  const id = { repo: 'embedsync/sharded-bad', revision: 'main' };
  const cacheDir = join(scratch, 'bad-shards');
  const dir = cachedModelDir(cacheDir, id);
  const serveIndex = (text: string) => hub.repos.set(id.repo, new Map([...good, ['model.safetensors.index.json', Buffer.from(text)]]));
  try {
    for (const bad of [
      '../../../escape.safetensors', 'sub/model.safetensors', '..\\model.safetensors', '/etc/model.safetensors', '.hidden.safetensors',
      'model.bin', 'model-1..safetensors', 7,
    ]) {
      serveIndex(JSON.stringify({ ...index, weight_map: { ...index.weight_map, [firstTensor]: bad } }));
      hub.log.length = 0;
      await assert.rejects(downloadModel(id, opts(cacheDir)), (err: unknown) =>
        err instanceof HubDownloadError && err.message.includes('not plain *.safetensors names') &&
        err.message.includes(JSON.stringify(String(bad))), String(bad));
      assert.deepEqual(shardGets(), [], `no shard fetched for ${String(bad)}`);
      // Not kept, so a corrected index is fetched on the next start.
      assert.equal(await exists(join(dir, 'model.safetensors.index.json')), false);
    }
    assert.equal(await exists(join(scratch, 'escape.safetensors')), false);
    serveIndex('{"weight_map": ');
    await assert.rejects(downloadModel(id, opts(cacheDir)),
      (err: unknown) => err instanceof HubDownloadError && /is not valid JSON/.test(err.message));
    serveIndex(JSON.stringify({ ...index, weight_map: { ...index.weight_map, [firstTensor]: 'model-00009-of-00009.safetensors' } }));
    await assert.rejects(downloadModel(id, opts(cacheDir)),
      (err: unknown) => err instanceof HubDownloadError && /model-00009-of-00009\.safetensors answered 404/.test(err.message));
    serveIndex(JSON.stringify(index));
    await downloadModel(id, opts(cacheDir));
    assert.ok(await exists(join(dir, 'onnx/model.onnx')));
  } finally {
    hub.repos.delete(id.repo);
  }
});
