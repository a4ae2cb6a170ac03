// Writes a random checkpoint with ai-forever/ru-en-RoSBERTa's shape (RoBERTa-large: 24 layers, hidden 1024,
// 16 heads, intermediate 4096, 514 positions, vocab 50265, CLS pooling, the two prompts, Normalize) and the
// test model's tokenizer, for benchmarks of import, int8 and speed. Random weights: its vectors mean
// nothing. Generated, never committed (models/ is ignored).
//   usage: npx tsx scripts/make-rosberta-shape.ts [--out models/rosberta-shape] [--layers 24] [--vocab 50265] [--dtype F32|F16|BF16]
import { closeSync, copyFileSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseEncoderConfig } from '../src/model/checkpoint.ts';
import { writeSafetensorsToFd } from '../src/model/safetensors.ts';
import { randomEncoderWeights, TINY_CONFIG, TINY_MODEL_DIR } from '../src/model/tiny-model.ts';

// The test model's config with RoBERTa-large's sizes: every other field is the same.
export const ROSBERTA_SHAPE = {
  ...TINY_CONFIG,
  hidden_size: 1024,
  intermediate_size: 4096,
  max_position_embeddings: 514,
  num_attention_heads: 16,
  num_hidden_layers: 24,
  vocab_size: 50265,
} as const;

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'models/rosberta-shape' },
    layers: { type: 'string', default: String(ROSBERTA_SHAPE.num_hidden_layers) },
    vocab: { type: 'string', default: String(ROSBERTA_SHAPE.vocab_size) },
    dtype: { type: 'string', default: 'F32' },
    seed: { type: 'string', default: '424242' },
  },
});
const dtype = values.dtype as 'F32' | 'F16' | 'BF16';
if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new Error(`--dtype ${values.dtype}: F32, F16 or BF16`);
const out = resolve(values.out);
const configJson = { ...ROSBERTA_SHAPE, num_hidden_layers: Number(values.layers), vocab_size: Number(values.vocab) };
const cfg = parseEncoderConfig(configJson);
const started = performance.now();
mkdirSync(join(out, '1_Pooling'), { recursive: true });
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
writeFileSync(join(out, 'config.json'), json(configJson));
for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'modules.json', 'config_sentence_transformers.json', 'sentence_bert_config.json']) {
  copyFileSync(join(TINY_MODEL_DIR, f), join(out, f));
}
writeFileSync(join(out, '1_Pooling', 'config.json'), json({
  word_embedding_dimension: cfg.hiddenSize, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false,
  pooling_mode_max_tokens: false, pooling_mode_mean_sqrt_len_tokens: false, pooling_mode_weightedmean_tokens: false,
  pooling_mode_lasttoken: false, include_prompt: true,
}));
writeFileSync(join(out, 'README.md'), `# RoSBERTa-shaped random model (embedsync benchmarks)\n\nRandom weights in ai-forever/ru-en-RoSBERTa's shape; the tokenizer is embedsync's test tokenizer.\n`);
// Generated as F32, stored in the requested dtype (the writer rounds to F16 / BF16).
const weights = new Map([...randomEncoderWeights(cfg, { seed: Number(values.seed) })].map(([k, t]) => [k, { ...t, dtype }] as const));
const part = join(out, 'model.safetensors.part');
const fd = openSync(part, 'w');
try {
  writeSafetensorsToFd(fd, weights, { format: 'pt' });
} finally {
  closeSync(fd);
}
renameSync(part, join(out, 'model.safetensors'));
const params = [...weights.values()].reduce((s, t) => s + t.data.length, 0);
process.stdout.write(`wrote ${out}: ${cfg.numLayers} layers, hidden ${cfg.hiddenSize}, vocab ${cfg.vocabSize}, ${(params / 1e6).toFixed(1)}M parameters (${dtype}) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
