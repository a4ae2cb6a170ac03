// Checkpoint import against real ONNX Runtime: tiny random checkpoints written as safetensors (BERT and
// RoBERTa flavours, F32 / F16 / BF16, single file and sharded) are imported and their ONNX output (plain and
// fused graphs) compared with the independent float64 reference; external data; the int8 quality gate on a
// small model; bad checkpoints; the CLI end to end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../src/config/index.ts';
import { modelCommand } from '../src/cli/model.ts';
import { createLocalEncoder } from '../src/encoder/local-encoder.ts';
import { readModelFolder } from '../src/encoder/model-folder.ts';
import { TextTokenizer } from '../src/encoder/text-tokenizer.ts';
import { CheckpointError, parseEncoderConfig, type EncoderConfig } from '../src/model/checkpoint.ts';
import { convertCheckpoint } from '../src/model/convert-checkpoint.ts';
import { INT8_KERNELS } from '../src/model/encoder-graph.ts';
import { importModel } from '../src/model/import-checkpoint.ts';
import { mixedTexts } from './support/mixed-texts.ts';
import { referenceForward } from './support/reference-forward.ts';
import {
  openCheckpointTensors, openSafetensorsFile, parseSafetensors, toFloat32, writeSafetensors, type TensorToWrite,
} from '../src/model/safetensors.ts';
import { randomEncoderWeights } from '../src/model/tiny-model.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';

const run = promisify(execFile);
const bin = new URL('../bin/embedsync.js', import.meta.url).pathname;
let scratch: string;
before(async () => { scratch = await mkdtemp(join(tmpdir(), 'embedsync-import-')); });
after(async () => { await rm(scratch, { recursive: true, force: true }); });

const SMALL = { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 48, vocab_size: 512, hidden_act: 'gelu' };
const ROBERTA = { ...SMALL, model_type: 'roberta', max_position_embeddings: 40, pad_token_id: 1, type_vocab_size: 1, layer_norm_eps: 1e-5 };
const BERT = { ...SMALL, model_type: 'bert', max_position_embeddings: 40, pad_token_id: 0, type_vocab_size: 2, layer_norm_eps: 1e-12 };

interface CheckpointSpec {
  readonly config: Record<string, unknown>;
  readonly dtype: TensorToWrite['dtype'];
  readonly prefix?: string;
  /** Split the tensors over this many shards with a model.safetensors.index.json. */
  readonly shards?: number;
  readonly seed?: number;
}

/** A checkpoint folder as the hub has them: config, safetensors, tokenizer and sentence-transformers files. */
async function writeCheckpoint(name: string, spec: CheckpointSpec): Promise<{ dir: string; cfg: EncoderConfig; bytes: Uint8Array }> {
  const dir = join(scratch, name);
  await mkdir(join(dir, '1_Pooling'), { recursive: true });
  const cfg = parseEncoderConfig(spec.config);
  await writeFile(join(dir, 'config.json'), JSON.stringify(spec.config));
  for (const f of [
    'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'modules.json', 'config_sentence_transformers.json',
  ]) {
    await copyFile(join(TINY_MODEL_DIR, f), join(dir, f));
  }
  const pooling = JSON.parse(await readFile(join(TINY_MODEL_DIR, '1_Pooling/config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, '1_Pooling/config.json'), JSON.stringify({ ...pooling, word_embedding_dimension: cfg.hiddenSize }));
  const weights = new Map([...randomEncoderWeights(cfg, { seed: spec.seed ?? 7, prefix: spec.prefix ?? '' })]
    .map(([k, t]) => [k, { ...t, dtype: spec.dtype }] as const));
  const bytes = writeSafetensors(weights, { format: 'pt' });
  if (!spec.shards) {
    await writeFile(join(dir, 'model.safetensors'), bytes);
  } else {
    const names = [...weights.keys()].sort();
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < spec.shards; s++) {
      const file = `model-0000${s + 1}-of-0000${spec.shards}.safetensors`;
      const part = names.filter((_, i) => i % spec.shards! === s);
      for (const n of part) weightMap[n] = file;
      await writeFile(join(dir, file), writeSafetensors(new Map(part.map((n) => [n, weights.get(n)!]))));
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  }
  return { dir, cfg, bytes };
}

/** Worst |ONNX − float64 reference| over the unpadded positions of a padded two-row batch. */
async function worstDiff(onnxPath: string, cfg: EncoderConfig, tensors: Parameters<typeof referenceForward>[1]): Promise<number> {
  const session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: 1 });
  try {
    const pad = cfg.padTokenId;
    const ids = [[0, 17, 3, 40, 9, 2, 300], [0, 8, 2, pad, pad, pad, pad]];
    const mask = ids.map((row, r) => row.map((_, t) => (r === 0 || t < 3 ? 1 : 0)));
    const S = ids[0]!.length;
    const out = (await session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.flat().map(BigInt)), [2, S]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask.flat().map(BigInt)), [2, S]),
    })).last_hidden_state!.data as Float32Array;
    const ref = referenceForward(cfg, tensors, ids, mask);
    const H = cfg.hiddenSize;
    let worst = 0;
    for (let b = 0; b < 2; b++) {
      for (let i = 0; i < S * H; i++) if (mask[b]![Math.floor(i / H)]) worst = Math.max(worst, Math.abs(out[b * S * H + i]! - ref[b]![i]!));
    }
    return worst;
  } finally {
    await session.release();
  }
}

test('streamed safetensors reads give the in-memory values for F32, F16 and BF16', async () => {
  const data = Float32Array.of(0, -0, 1, -2.5, 1.5, 3.140625, -70000, 1e-3);
  const path = join(scratch, 'dtypes.safetensors');
  await writeFile(path, writeSafetensors(new Map<string, TensorToWrite>([
    ['f32', { dtype: 'F32', shape: [2, 4], data }], ['f16', { dtype: 'F16', shape: [8], data }],
    ['bf16', { dtype: 'BF16', shape: [8], data }],
  ])));
  const memory = parseSafetensors(await readFile(path));
  const file = openSafetensorsFile(path);
  try {
    for (const name of ['f32', 'f16', 'bf16']) {
      assert.deepEqual(toFloat32(file.tensors.get(name)!), toFloat32(memory.tensors.get(name)!), name);
    }
    assert.deepEqual(toFloat32(file.tensors.get('f32')!), data);
    // BF16 keeps 8 significant bits: exact for these, rounded to nearest even for the rest.
    assert.deepEqual([...toFloat32(file.tensors.get('bf16')!).slice(0, 6)], [0, -0, 1, -2.5, 1.5, 3.140625]);
    assert.equal(toFloat32(file.tensors.get('bf16')!)[6], -70144);
  } finally {
    file.close();
  }
  assert.throws(() => file.tensors.get('f32')!.bytes, /after close/);
});

for (const [label, config, dtype, prefix] of [
  ['RoBERTa F32', ROBERTA, 'F32', 'roberta.'],
  ['RoBERTa F16', ROBERTA, 'F16', ''],
  ['BERT F32', BERT, 'F32', 'bert.'],
  ['BERT BF16', BERT, 'BF16', 'bert.'],
] as const) {
  test(`${label} checkpoint imports to plain and fused graphs that match the float64 reference to 1e-4`, async () => {
    const name = label.replace(' ', '-').toLowerCase();
    const { dir, cfg, bytes } = await writeCheckpoint(name, { config, dtype, prefix });
    const tensors = parseSafetensors(bytes).tensors;
    for (const variant of ['plain', 'fused'] as const) {
      const out = join(scratch, `${name}-${variant}`);
      const result = await importModel(dir, { outDir: out, variant });
      assert.deepEqual(result.checkpointFiles, ['model.safetensors']);
      const diff = await worstDiff(join(out, 'onnx/model.onnx'), cfg, tensors);
      assert.ok(diff <= 1e-4, `${label} ${variant}: max abs diff ${diff}`);
    }
  });
}

test('a sharded checkpoint imports to the same bytes as the single file', async () => {
  const single = await writeCheckpoint('single', { config: ROBERTA, dtype: 'F16', seed: 3 });
  const sharded = await writeCheckpoint('sharded', { config: ROBERTA, dtype: 'F16', seed: 3, shards: 3 });
  const a = await importModel(single.dir, { outDir: join(scratch, 'single-out'), quantize: 'int8' });
  const b = await importModel(sharded.dir, { outDir: join(scratch, 'sharded-out'), quantize: 'int8' });
  assert.deepEqual(b.checkpointFiles, ['model.safetensors.index.json',
    'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
  for (const f of ['onnx/model.onnx', 'onnx/model_quantized.onnx']) {
    assert.ok((await readFile(join(a.outDir, f))).equals(await readFile(join(b.outDir, f))), f);
  }
  assert.ok(await worstDiff(join(b.outDir, 'onnx/model.onnx'), single.cfg, parseSafetensors(single.bytes).tensors) <= 1e-4);
  // A shard that lost a tensor the index promises is named.
  const index = JSON.parse(await readFile(join(sharded.dir, 'model.safetensors.index.json'), 'utf8')) as {
    weight_map: Record<string, string>;
  };
  index.weight_map['encoder.layer.9.extra'] = 'model-00001-of-00003.safetensors';
  await writeFile(join(sharded.dir, 'model.safetensors.index.json'), JSON.stringify(index));
  await assert.rejects(importModel(sharded.dir, { outDir: join(scratch, 'sharded-bad') }),
    /tensors not found in their shard \(first: encoder\.layer\.9\.extra\)/);
  assert.throws(() => openCheckpointTensors(join(scratch, 'nowhere')), /neither model\.safetensors nor model\.safetensors\.index\.json/);
});

test('weights go to external data past the threshold; the encoder loads it and its checksum covers it', async () => {
  const { dir } = await writeCheckpoint('external', { config: ROBERTA, dtype: 'F32', seed: 5 });
  const inline = await importModel(dir, { outDir: join(scratch, 'external-inline'), quantize: 'int8' });
  const external = await importModel(dir, { outDir: join(scratch, 'external-data'), quantize: 'int8', externalDataThreshold: 1 });
  assert.equal(inline.written[0]!.externalData, undefined);
  assert.deepEqual(external.written.map((w) => w.externalData), ['model.onnx_data', 'model_quantized.onnx_data']);
  const onnxDir = join(external.outDir, 'onnx');
  assert.deepEqual((await readdir(onnxDir)).sort(), ['model.onnx', 'model.onnx_data', 'model_quantized.onnx', 'model_quantized.onnx_data']);
  assert.ok((await stat(join(onnxDir, 'model.onnx'))).size < 20_000, 'graph file holds no weights');
  const texts = ['Новая заявка: поставка мебели', 'call back after lunch', 'x'];
  for (const dtype of ['fp32', 'int8'] as const) {
    const open = (d: string) => createLocalEncoder({ dir: d, dtype, threads: 1, maxBatchTokens: 4096 });
    const [a, b] = [await open(inline.outDir), await open(external.outDir)];
    try {
      assert.equal(b.info.file, dtype === 'fp32' ? 'onnx/model.onnx' : 'onnx/model_quantized.onnx');
      const [va, vb] = [(await a.encode(texts, 'document')).vectors, (await b.encode(texts, 'document')).vectors];
      va.forEach((v, i) => assert.ok(v.every((x, j) => Math.abs(x - vb[i]![j]!) <= 1e-6), `${dtype} text ${i}`));
      if (dtype === 'fp32') {
        // One flipped weight byte in the data file changes the checksum.
        const before = b.info.checksum;
        const dataPath = join(onnxDir, 'model.onnx_data');
        const data = await readFile(dataPath);
        data.writeUInt8(data.readUInt8(4096 + 17) ^ 1, 4096 + 17);
        await writeFile(dataPath, data);
        const c = await open(external.outDir);
        assert.notEqual(c.info.checksum, before);
        await c.close();
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }
});

test('int8 quality gate on a small model: mean cosine ≥ 0.99 and min ≥ 0.97 over 500 mixed ru/en texts', async () => {
  const config = {
    ...ROBERTA, hidden_size: 128, num_attention_heads: 4, intermediate_size: 512, num_hidden_layers: 2, max_position_embeddings: 514,
  };
  const { dir } = await writeCheckpoint('gate', { config, dtype: 'F16', seed: 9 });
  const out = (await importModel(dir, { outDir: join(scratch, 'gate-out'), quantize: 'int8' })).outDir;
  const fp32Size = (await stat(join(out, 'onnx/model.onnx'))).size;
  const int8Size = (await stat(join(out, 'onnx/model_quantized.onnx'))).size;
  assert.ok(int8Size < fp32Size * 0.6, `int8 ${int8Size} vs fp32 ${fp32Size} bytes`);
  assert.match((await readFile(join(out, 'onnx/model_quantized.onnx'))).toString('latin1'), /DynamicQuantizeMatMul/);
  const folder = await readModelFolder(out, 'fp32');
  const tok = TextTokenizer.of(folder);
  const texts = mixedTexts({ count: 500, minTokens: 8, maxTokens: 60, tokens: (t) => tok.encode(folder.prompts.document, t).ids.length });
  assert.ok(new Set(texts).size >= 350, `${new Set(texts).size} distinct texts`);
  const open = (dtype: 'fp32' | 'int8') => createLocalEncoder({ dir: out, dtype, threads: 1, maxBatchTokens: 8192 });
  const [fp32, int8] = [await open('fp32'), await open('int8')];
  try {
    assert.notEqual(fp32.info.checksum, int8.info.checksum);
    const [a, b] = [(await fp32.encode(texts, 'document')).vectors, (await int8.encode(texts, 'document')).vectors];
    const cos = a.map((v, i) => v.reduce((s, x, j) => s + x * b[i]![j]!, 0));
    const mean = cos.reduce((s, c) => s + c, 0) / cos.length;
    const min = Math.min(...cos);
    process.stdout.write(`# int8 quality gate (hidden 128, 2 layers, 500 texts): mean cosine ${mean.toFixed(5)}, min ${min.toFixed(5)}\n`);
    assert.ok(mean >= 0.99 && min >= 0.97, `mean ${mean}, min ${min}`);
    assert.ok(mean < 0.999999, 'int8 vectors differ from fp32 (the quantized file is really used)');
  } finally {
    await Promise.all([fp32.close(), int8.close()]);
  }
});

test('every int8 kernel, in the plain and fused graphs, stays within cosine 0.999 of fp32 per token', async () => {
  const cfg = parseEncoderConfig({ ...ROBERTA, hidden_size: 64, intermediate_size: 256 });
  const weights = parseSafetensors(writeSafetensors(randomEncoderWeights(cfg, { seed: 21 }))).tensors;
  const ids = [[0, 17, 3, 40, 9, 2, 300, 2]];
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.flat().map(BigInt)), [1, 8]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(8).fill(1n), [1, 8]),
  };
  const runModel = async (bytes: Uint8Array) => {
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    try {
      return (await session.run(feeds)).last_hidden_state!.data as Float32Array;
    } finally {
      await session.release();
    }
  };
  const fp32 = await runModel(convertCheckpoint({ config: cfg, weights }));
  for (const variant of ['plain', 'fused'] as const) {
    for (const int8Kernel of INT8_KERNELS) {
      const q = await runModel(convertCheckpoint({ config: cfg, weights, variant, weightType: 'int8', int8Kernel }));
      for (let t = 0; t < 8; t++) {
        const [a, b] = [fp32.subarray(t * 64, (t + 1) * 64), q.subarray(t * 64, (t + 1) * 64)];
        const cos = a.reduce((s, x, i) => s + x * b[i]!, 0) /
          Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
        assert.ok(cos >= 0.999, `${variant} ${int8Kernel} token ${t}: cosine ${cos}`);
      }
    }
  }
});

test('bad checkpoints fail before anything is written, naming the problem', async () => {
  const { dir } = await writeCheckpoint('bad', { config: ROBERTA, dtype: 'F32' });
  const out = join(scratch, 'bad-out');
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...ROBERTA, hidden_size: 64, intermediate_size: 96 }));
  await assert.rejects(importModel(dir, { outDir: out }), (err: unknown) =>
    err instanceof CheckpointError && /embeddings\.word_embeddings\.weight has shape \[512, 32\], expected \[512, 64\]/.test(err.message));
  assert.equal(await stat(join(out, 'onnx/model.onnx')).then(() => true, () => false), false);
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...ROBERTA, hidden_act: 'relu' }));
  await assert.rejects(importModel(dir, { outDir: out }), /hidden_act "relu" is not supported/);
  await writeFile(join(dir, 'config.json'), JSON.stringify(ROBERTA));
  await rm(join(dir, 'tokenizer.json'));
  await assert.rejects(importModel(dir, { outDir: out }), /has no tokenizer\.json/);
  await writeFile(join(dir, 'tokenizer.json'), '{}');
  await writeFile(join(dir, 'model.safetensors'), Buffer.from('not a safetensors file'));
  await assert.rejects(importModel(dir, { outDir: out }), /cannot read the checkpoint: .*header length/);
});

test('embedsync model import end to end: folder in, loadable fp32 and int8 model out', async () => {
  const { dir } = await writeCheckpoint('cli', { config: ROBERTA, dtype: 'F16', seed: 11 });
  const out = join(scratch, 'cli-out');
  const env = { ...process.env, EMBEDDING_THREADS: '1' };
  const imported = await run(process.execPath, [bin, 'model', 'import', dir, '--out', out, '--quantize', 'int8'], { env });
  assert.match(imported.stdout, /wrote .*onnx\/model\.onnx/);
  assert.match(imported.stdout, /wrote .*onnx\/model_quantized\.onnx/);
  assert.match(imported.stdout, /copied config\.json, tokenizer\.json, .*1_Pooling\/config\.json/);
  const info = async (dtype: string) => JSON.parse((await run(process.execPath, [bin, 'model', 'info', '--json', '--model', out],
    { env: { ...env, EMBEDDING_DTYPE: dtype } })).stdout) as { file: string; dimensions: number; checksum: string };
  const [fp32, int8] = [await info('fp32'), await info('int8')];
  assert.equal(fp32.file, 'onnx/model.onnx');
  assert.equal(int8.file, 'onnx/model_quantized.onnx');
  assert.equal(int8.dimensions, 32);
  assert.notEqual(fp32.checksum, int8.checksum);
  const embedded = JSON.parse((await run(process.execPath, [bin, 'embed', 'Новая заявка', '--model', out], { env })).stdout) as {
    embedding: number[];
  };
  assert.equal(embedded.embedding.length, 32);
  await assert.rejects(run(process.execPath, [bin, 'model', 'import', dir, '--quantize', 'int4'], { env }), /only int8 is supported/);
  await assert.rejects(run(process.execPath, [bin, 'model', 'import', 'not a hub id!'], { env }),
    /neither an existing folder nor a hub id/);
});

test('model import <hub id> downloads, imports in the model cache and copies the loadable folder to --out', async () => {
  const { dir } = await writeCheckpoint('hub-src', { config: ROBERTA, dtype: 'BF16', seed: 13 });
  const files = new Map<string, Buffer>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) files.set(join(e.parentPath, e.name).slice(dir.length + 1), await readFile(join(e.parentPath, e.name)));
  }
  const served: string[] = [];
  const server = createServer((req, res) => {
    const m = /^\/embedsync\/checkpoint\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const body = m ? files.get(decodeURIComponent(m[1]!)) : undefined;
    if (!body) return void res.writeHead(404).end();
    served.push(decodeURIComponent(m![1]!));
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const cacheDir = join(scratch, 'hub-cache');
    const out = join(scratch, 'hub-out');
    const printed: string[] = [];
    const ctx = {
      argv: ['import', 'embedsync/checkpoint', '--out', out, '--quantize', 'int8'], env: {}, cores: 1, cwd: scratch,
      config: () => loadConfig({
        HF_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, EMBEDSYNC_CACHE_DIR: cacheDir, EMBEDDING_THREADS: '1',
      }),
      stdout: { write: (s: string) => printed.push(s) }, stderr: { write: () => true }, signal: new AbortController().signal,
    };
    assert.equal(await modelCommand(ctx), 0);
    assert.ok(served.includes('model.safetensors') && served.includes('tokenizer.json'));
    assert.match(printed.join(''), /imported roberta \(2 layers, hidden 32\) into .*hub-out/);
    const outFiles = (await readdir(out, { recursive: true })).map(String).sort();
    assert.ok(outFiles.includes(join('onnx', 'model_quantized.onnx')) && outFiles.includes('tokenizer.json'), outFiles.join(', '));
    assert.ok(!outFiles.some((f) => f.endsWith('.safetensors') || f.startsWith('.complete')), outFiles.join(', '));
    for (const dtype of ['fp32', 'int8'] as const) {
      const e = await createLocalEncoder({ dir: out, dtype, threads: 1, maxBatchTokens: 4096 });
      assert.equal(e.info.dimensions, 32);
      await e.close();
    }
  } finally {
    server.close();
  }
});
