// The local encoder on the committed test model with real ONNX Runtime: agreement with the float64
// reference, batching invariance, pooling/prompt/normalize settings, checksums, clear errors, bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.ts';
import { createEncoder, EncodeError, type Encoder, type PoolingMode } from '../src/encoder/index.ts';
import { PACKAGE_VERSION } from '../src/config/index.ts';
import { createLocalEncoder } from '../src/encoder/local-encoder.ts';
import { readModelFolder } from '../src/encoder/model-folder.ts';
import { TextTokenizer } from '../src/encoder/text-tokenizer.ts';
import { parseEncoderConfig } from '../src/model/checkpoint.ts';
import { referenceForward } from './support/reference-forward.ts';
import { parseSafetensors, toFloat32 } from '../src/model/safetensors.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';

const TEXTS = [
  'Новая заявка: поставка офисной мебели в Москву',
  'hello',
  'The client asked us to call back after lunch and wants to know the price and delivery time of 50 laptops.',
  'Компания ищет подрядчика для ремонта склада. '.repeat(12),
  'x',
];

let encoder: Encoder;
let scratch: string;
const open = (dir = TINY_MODEL_DIR, extra: Partial<Parameters<typeof createLocalEncoder>[0]> = {}) =>
  createLocalEncoder({ dir, dtype: 'fp32', threads: 1, maxBatchTokens: 8192, ...extra });

before(async () => {
  encoder = await open();
  scratch = await mkdtemp(join(tmpdir(), 'embedsync-encoder-'));
});
after(async () => {
  await encoder.close();
  await rm(scratch, { recursive: true, force: true });
});

/** A private copy of the test model to edit. */
async function copyModel(name: string): Promise<string> {
  const dir = join(scratch, name);
  await cp(TINY_MODEL_DIR, dir, { recursive: true });
  return dir;
}

const maxAbsDiff = (a: Float32Array, b: ArrayLike<number>) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test('info comes from the model folder', () => {
  const i = encoder.info;
  assert.equal(i.dimensions, 64);
  assert.equal(i.pooling, 'cls');
  assert.deepEqual(i.prompts, { query: 'search_query: ', document: 'search_document: ' });
  assert.equal(i.normalize, true);
  assert.equal(i.maxTokens, 512);
  assert.match(i.checksum, /^[0-9a-f]{16}$/);
  assert.equal(i.version, PACKAGE_VERSION);
  assert.equal(i.file, 'onnx/model.onnx');
  assert.equal(i.backend, 'local');
});

async function referenceVector(dir: string, pooling: PoolingMode, text: string, prompt: string, skipPrompt = false): Promise<Float64Array> {
  const folder = await readModelFolder(dir, 'fp32');
  const tok = new TextTokenizer(JSON.parse(new TextDecoder().decode(folder.tokenizerJson)) as object, folder.tokenizerConfig, 512);
  const ids = tok.encode(prompt, text).ids;
  const cfg = parseEncoderConfig(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')));
  const weights = parseSafetensors(await readFile(join(dir, 'model.safetensors'))).tensors;
  const h = referenceForward(cfg, weights, [ids], [ids.map(() => 1)])[0]!;
  const H = cfg.hiddenSize;
  const v = new Float64Array(H);
  for (let d = 0; d < H; d++) {
    // include_prompt=false: sentence-transformers leaves <s> and the prompt's tokens out of the pool.
    const from = skipPrompt ? tok.promptLength(prompt) : 0;
    const col = ids.map((_, t) => h[t * H + d]!).slice(from);
    v[d] = pooling === 'cls' ? col[0]! : pooling === 'lasttoken' ? col.at(-1)! : pooling === 'max' ? Math.max(...col)
      : col.reduce((a, b) => a + b, 0) / col.length;
  }
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
}

test('vectors agree with the float64 reference forward pass to 1e-4', async () => {
  const r = await encoder.encode(TEXTS.slice(0, 3), 'document');
  for (let i = 0; i < 3; i++) {
    const ref = await referenceVector(TINY_MODEL_DIR, 'cls', TEXTS[i]!, 'search_document: ');
    assert.ok(maxAbsDiff(r.vectors[i]!, ref) <= 1e-4, `text ${i}: ${maxAbsDiff(r.vectors[i]!, ref)}`);
  }
});

test('a text gives the same vector alone and padded in a batch with longer texts; input order kept', async () => {
  const batch = await encoder.encode(TEXTS, 'document');
  // A tiny token budget forces many batches of other shapes.
  const small = await open(TINY_MODEL_DIR, { maxBatchTokens: 40 });
  try {
    const split = await small.encode(TEXTS, 'document');
    for (let i = 0; i < TEXTS.length; i++) {
      const alone = await encoder.encode([TEXTS[i]!], 'document');
      assert.ok(maxAbsDiff(alone.vectors[0]!, batch.vectors[i]!) <= 1e-6, `text ${i} alone vs batch`);
      assert.ok(maxAbsDiff(split.vectors[i]!, batch.vectors[i]!) <= 1e-6, `text ${i} small batches vs one batch`);
      assert.ok(Math.abs(norm(batch.vectors[i]!) - 1) <= 1e-6);
    }
    assert.equal(batch.tokens, split.tokens);
  } finally {
    await small.close();
  }
  // Distinct texts, distinct vectors: the order really is the input order.
  assert.ok(maxAbsDiff(batch.vectors[0]!, batch.vectors[1]!) > 1e-3);
});

test('query and document prompts give different vectors; configured prompts override the model', async () => {
  const [q, d] = await Promise.all([encoder.encode([TEXTS[0]!], 'query'), encoder.encode([TEXTS[0]!], 'document')]);
  assert.ok(maxAbsDiff(q.vectors[0]!, d.vectors[0]!) > 1e-3);
  const custom = await open(TINY_MODEL_DIR, { prompts: { query: 'query: ' } });
  try {
    assert.equal(custom.info.prompts.query, 'query: ');
    assert.notEqual(custom.info.checksum, encoder.info.checksum);
    const c = await custom.encode([TEXTS[0]!], 'query');
    assert.ok(maxAbsDiff(c.vectors[0]!, q.vectors[0]!) > 1e-3);
  } finally {
    await custom.close();
  }
});

test('pooling mode is read from 1_Pooling/config.json (mean, max, lasttoken vs reference)', async () => {
  for (const mode of ['mean', 'max', 'lasttoken'] as const) {
    const dir = await copyModel(`pool-${mode}`);
    const path = join(dir, '1_Pooling/config.json');
    const cfg = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    cfg.pooling_mode_cls_token = false;
    cfg[{ mean: 'pooling_mode_mean_tokens', max: 'pooling_mode_max_tokens', lasttoken: 'pooling_mode_lasttoken' }[mode]] = true;
    await writeFile(path, JSON.stringify(cfg));
    const e = await open(dir);
    try {
      assert.equal(e.info.pooling, mode);
      assert.notEqual(e.info.checksum, encoder.info.checksum);
      const v = (await e.encode([TEXTS[2]!], 'document')).vectors[0]!;
      const cls = (await encoder.encode([TEXTS[2]!], 'document')).vectors[0]!;
      assert.ok(maxAbsDiff(v, cls) > 1e-3);
      assert.ok(maxAbsDiff(v, await referenceVector(dir, mode, TEXTS[2]!, 'search_document: ')) <= 1e-4, mode);
    } finally {
      await e.close();
    }
  }
});

test('include_prompt=false leaves the prompt tokens out of mean pooling', async () => {
  const dir = await copyModel('no-prompt-pool');
  const path = join(dir, '1_Pooling/config.json');
  const cfg = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  await writeFile(path, JSON.stringify({ ...cfg, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true, include_prompt: false }));
  const e = await open(dir);
  try {
    const v = (await e.encode([TEXTS[0]!], 'query')).vectors[0]!;
    assert.ok(maxAbsDiff(v, await referenceVector(dir, 'mean', TEXTS[0]!, 'search_query: ', true)) <= 1e-4);
    assert.ok(maxAbsDiff(v, await referenceVector(dir, 'mean', TEXTS[0]!, 'search_query: ', false)) > 1e-3);
  } finally {
    await e.close();
  }
});

test('the checksum changes with one weight byte, and follows the normalize setting', async () => {
  const dir = await copyModel('flipped');
  const onnxPath = join(dir, 'onnx/model.onnx');
  const onnx = await readFile(onnxPath);
  // Find the first row of the word embedding table inside the ONNX file and flip a mantissa bit.
  const st = parseSafetensors(await readFile(join(dir, 'model.safetensors')));
  const row = Buffer.from(toFloat32(st.tensors.get('embeddings.word_embeddings.weight')!).slice(0, 8).buffer);
  const at = onnx.indexOf(row);
  assert.ok(at > 0);
  onnx[at] = onnx[at]! ^ 1;
  await writeFile(onnxPath, onnx);
  const flipped = await open(dir);
  try {
    assert.notEqual(flipped.info.checksum, encoder.info.checksum);
  } finally {
    await flipped.close();
  }
  const plain = await copyModel('no-normalize');
  const modules = JSON.parse(await readFile(join(plain, 'modules.json'), 'utf8')) as { type: string }[];
  await writeFile(join(plain, 'modules.json'), JSON.stringify(modules.filter((m) => !m.type.endsWith('Normalize'))));
  const e = await open(plain);
  try {
    assert.equal(e.info.normalize, false);
    assert.notEqual(e.info.checksum, encoder.info.checksum);
    // embedsync stores unit vectors either way.
    assert.ok(Math.abs(norm((await e.encode(['abc'], 'document')).vectors[0]!) - 1) <= 1e-6);
  } finally {
    await e.close();
  }
});

test('missing files are named with their folder; int8 selects model_quantized.onnx', async () => {
  const dir = await copyModel('missing');
  await assert.rejects(open(dir, { dtype: 'int8' }), (err: Error) =>
    err.message.includes('onnx/model_quantized.onnx') && err.message.includes(dir));
  await cp(join(dir, 'onnx/model.onnx'), join(dir, 'onnx/model_quantized.onnx'));
  const q = await open(dir, { dtype: 'int8' });
  assert.equal(q.info.file, 'onnx/model_quantized.onnx');
  await q.close();
  // Present but unusable: the workers load the tokenizer, and the error still names the file, not the model.
  const tokenizer = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as { model: object };
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify({ ...tokenizer, model: { ...tokenizer.model, vocab: {} } }));
  await assert.rejects(open(dir),
    (err: Error) => /^tokenizer\.json in model folder .* cannot be used/.test(err.message) && err.message.includes(dir));
  await rm(join(dir, 'tokenizer.json'));
  await assert.rejects(open(dir), (err: Error) => err.message.includes('tokenizer.json') && err.message.includes(dir));
  await rm(join(dir, 'onnx/model.onnx'));
  await assert.rejects(open(dir), (err: Error) => err.message.includes('onnx/model.onnx') && err.message.includes(dir));
  await assert.rejects(open(join(scratch, 'nowhere')), /model folder .*nowhere does not exist/);
});

test('bad input gives a unit vector or a clear EncodeError, never a crash; long texts are cut and counted', async () => {
  const megabyte = 'длинный текст about leads '.repeat(42_000);
  const inputs = ['', '   \n\t ', megabyte, 'a\u0000b\u0000', 'lone \ud800 high and \udfff low', '🙂👍🏽 emoji 🇷🇺',
    'שלום עולם hello مرحبا بالعالم мир'];
  const r = await encoder.encode(inputs, 'document');
  assert.equal(r.vectors.length, inputs.length);
  for (const v of r.vectors) assert.ok(Math.abs(norm(v) - 1) <= 1e-6 && v.every(Number.isFinite));
  assert.equal(r.truncated, 1);
  assert.ok(r.tokens <= 512 + 6 * 40);
  await assert.rejects(encoder.encode([42 as unknown as string], 'document'),
    (err: unknown) => err instanceof EncodeError && err.reason === 'input' && err.index === 0);
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(encoder.encode(['x'], 'document', { signal: aborted.signal }), EncodeError);
});

test('cutting a huge text before tokenizing does not change its tokens', async () => {
  const folder = await readModelFolder(TINY_MODEL_DIR, 'fp32');
  const json = JSON.parse(new TextDecoder().decode(folder.tokenizerJson)) as object;
  const tok = new TextTokenizer(json, folder.tokenizerConfig, 512);
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const raw = new Tokenizer(json, folder.tokenizerConfig);
  for (const unit of ['ааааааааааааааааааааа', 'заявка клиента ', '🙂x', ' ']) {
    const text = unit.repeat(Math.ceil(40_000 / unit.length));
    const full = raw.encode(text, { add_special_tokens: false }).ids.slice(0, 510);
    assert.deepEqual(tok.encode('', text).ids, [0, ...full, 2], JSON.stringify(unit));
  }
  const start = performance.now();
  const r = await encoder.encode(['x'.repeat(10_000_000)], 'document');
  assert.equal(r.truncated, 1);
  assert.ok(performance.now() - start < 5_000);
});

test('createEncoder takes the model from the configuration', async () => {
  const cfg = loadConfig({ EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1' });
  const e = await createEncoder(cfg.model);
  try {
    assert.equal(e.info.checksum, encoder.info.checksum);
    assert.deepEqual((await e.encode(['abc'], 'query')).vectors[0], (await encoder.encode(['abc'], 'query')).vectors[0]);
  } finally {
    await e.close();
  }
  await assert.rejects(createEncoder({ ...cfg.model, model: 'not a model' }),
    /model folder .*not a model does not exist \(EMBEDDING_MODEL=not a model, and it is not a hub id/);
});

test('truncation at the left keeps the special tokens, the prompt and the end of the text', async () => {
  const folder = await readModelFolder(TINY_MODEL_DIR, 'fp32');
  const tok = TextTokenizer.of(folder);
  const prompt = folder.prompts.document;
  const text = `opening ${'middle '.repeat(2000)}closing`;
  const left = tok.encode(prompt, text, 'left');
  const right = tok.encode(prompt, text, 'right');
  assert.equal(left.ids.length, folder.maxTokens);
  assert.ok(left.truncated && right.truncated);
  const full = tok.encode(prompt, 'x').ids;
  // The prompt alone ends in a space token that, before text, joins the next word: compare up to it.
  const promptIds = tok.encode(prompt, '').ids.slice(0, -2);
  assert.ok(promptIds.length > 1);
  assert.deepEqual(left.ids.slice(0, promptIds.length), promptIds, 'special tokens and prompt first');
  assert.equal(left.ids.at(-1), full.at(-1), 'the closing special token stays');
  const closing = tok.encode('', ' closing').ids.slice(1, -1); // as it stands after a space
  assert.deepEqual(left.ids.slice(-1 - closing.length, -1), closing, 'the end of the text is kept');
  assert.notDeepEqual(left.ids, right.ids);
  assert.deepEqual(tok.encode(prompt, 'short text', 'left'), tok.encode(prompt, 'short text', 'right'));
});
