// Model building blocks against real ONNX Runtime and the real tokenizer library: safetensors, the
// checkpoint → ONNX converter (RoBERTa and BERT flavours) vs the float64 reference, the committed test model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';
import { parseEncoderConfig, type EncoderConfig } from '../src/model/checkpoint.ts';
import { convertCheckpoint } from '../src/model/convert-checkpoint.ts';
import { referenceForward } from './support/reference-forward.ts';
import { floatToHalf, halfToFloat, parseSafetensors, toFloat32, writeSafetensors } from '../src/model/safetensors.ts';
import { randomEncoderWeights, writeTinyModel } from '../src/model/tiny-model.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

test('safetensors round trip: F32 exact, F16 rounded to nearest even', () => {
  const data = Float32Array.of(0, -0, 1, -2.5, 65504, 1e-7, 0.1, 3.14159, -70000);
  const bytes = writeSafetensors(new Map([
    ['b', { dtype: 'F32', shape: [3, 3], data }],
    ['a', { dtype: 'F16', shape: [9], data }],
  ]), { format: 'pt' });
  const file = parseSafetensors(bytes);
  assert.deepEqual([...file.tensors.keys()], ['a', 'b']);
  assert.equal(file.metadata.format, 'pt');
  assert.deepEqual(toFloat32(file.tensors.get('b')!), data);
  const half = toFloat32(file.tensors.get('a')!);
  assert.deepEqual([...half.slice(0, 5)], [0, -0, 1, -2.5, 65504]);
  assert.equal(half[6], 0.0999755859375);
  assert.equal(half[8], -Infinity);
  assert.equal(half[5], halfToFloat(floatToHalf(1e-7))); // subnormal
  assert.ok(Math.abs(half[5] - 1e-7) < 2 ** -25);
  for (let h = 0; h < 0x7c00; h += 7) assert.equal(floatToHalf(halfToFloat(h)), h);
  // The header is padded so tensor data starts 8-byte aligned.
  assert.equal(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8, 0);
  assert.throws(() => parseSafetensors(bytes.subarray(0, 40)), /exceeds the file|offsets/);
});

async function compareWithReference(cfg: EncoderConfig, prefix: string, dtype: 'F32' | 'F16'): Promise<number> {
  const st = parseSafetensors(writeSafetensors(randomEncoderWeights(cfg, { seed: 7, dtype, prefix })));
  const session = await ort.InferenceSession.create(convertCheckpoint({ config: cfg, weights: st.tensors }));
  try {
    const pad = cfg.padTokenId;
    const ids = [[5, 17, 3, 40, 9, 2], [5, 8, 2, pad, pad, pad]];
    const mask = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]];
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.flat().map(BigInt)), [2, 6]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask.flat().map(BigInt)), [2, 6]),
    };
    const out = (await session.run(feeds)).last_hidden_state!.data as Float32Array;
    const ref = referenceForward(cfg, st.tensors, ids, mask);
    let worst = 0;
    for (let b = 0; b < 2; b++) {
      for (let i = 0; i < 6 * cfg.hiddenSize; i++) {
        if (mask[b]![Math.floor(i / cfg.hiddenSize)]) worst = Math.max(worst, Math.abs(out[b * 6 * cfg.hiddenSize + i]! - ref[b]![i]!));
      }
    }
    return worst;
  } finally {
    await session.release();
  }
}

const small = { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 48, vocab_size: 50, hidden_act: 'gelu' };

test('converted RoBERTa graph matches the float64 reference (padding-offset positions)', async () => {
  const cfg = parseEncoderConfig({
    ...small, model_type: 'roberta', max_position_embeddings: 40, pad_token_id: 1, type_vocab_size: 1, layer_norm_eps: 1e-5,
  });
  assert.ok(await compareWithReference(cfg, 'roberta.', 'F16') <= 1e-4);
});

test('converted BERT graph matches the float64 reference (positions from 0, token type 0)', async () => {
  const cfg = parseEncoderConfig({
    ...small, model_type: 'bert', max_position_embeddings: 40, pad_token_id: 0, type_vocab_size: 2, layer_norm_eps: 1e-12,
  });
  assert.ok(await compareWithReference(cfg, 'bert.', 'F32') <= 1e-4);
});

test('config.json problems are all reported', () => {
  assert.throws(() => parseEncoderConfig({ model_type: 'gpt2', hidden_act: 'relu', hidden_size: 30, num_attention_heads: 4 }),
    /model_type "gpt2".*hidden_act "relu".*num_hidden_layers missing.*not a multiple/);
});

test('make-test reproduces the committed test model byte for byte', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'embedsync-tiny-'));
  try {
    await writeTinyModel(dir);
    const files = await listFiles(dir);
    assert.deepEqual(files, await listFiles(TINY_MODEL_DIR));
    for (const f of files) {
      assert.ok((await readFile(join(dir, f))).equals(await readFile(join(TINY_MODEL_DIR, f))), `${f} differs`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the test model loads in the tokenizer library and ONNX Runtime', async () => {
  const json = async (f: string) => JSON.parse(await readFile(join(TINY_MODEL_DIR, f), 'utf8')) as object;
  const tok = new Tokenizer(await json('tokenizer.json'), await json('tokenizer_config.json'));
  const enc = tok.encode('Новая заявка: delivery to Moscow');
  assert.equal(enc.ids[0], 0);
  assert.equal(enc.ids.at(-1), 2);
  // Learned merges cover both scripts: far fewer tokens than UTF-8 bytes.
  assert.ok(enc.ids.length < new TextEncoder().encode('Новая заявка: delivery to Moscow').length / 2, String(enc.ids.length));
  assert.equal(tok.decode(enc.ids, { skip_special_tokens: true }), 'Новая заявка: delivery to Moscow');
  const session = await ort.InferenceSession.create(join(TINY_MODEL_DIR, 'onnx/model.onnx'));
  assert.deepEqual(session.inputNames, ['input_ids', 'attention_mask']);
  assert.deepEqual(session.outputNames, ['last_hidden_state']);
  await session.release();
  const size = (await Promise.all((await listFiles(TINY_MODEL_DIR)).map((f) => readFile(join(TINY_MODEL_DIR, f)))))
    .reduce((a, b) => a + b.length, 0);
  assert.ok(size < 1_000_000, `test model is ${size} bytes`);
});
