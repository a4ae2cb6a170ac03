// Random checkpoints in a chosen BERT-family shape, with the test model's tokenizer grown to the shape's
// vocabulary (sized-tokenizer.ts): real-sized models for benchmarks and for the tests that must see what a
// model of seconds per run does to the process. Random weights: their vectors mean nothing. Generated, never
// committed.
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEncoderConfig, type EncoderConfig } from '../../src/model/checkpoint.ts';
import { writeSafetensorsToFd } from '../../src/model/safetensors.ts';
import { sizedTokenizerJson } from './sized-tokenizer.ts';
import { randomEncoderWeights, TINY_CONFIG } from '../../src/model/tiny-model.ts';
import { TINY_MODEL_DIR } from './tiny-model-dir.ts';

/** ai-forever/ru-en-RoSBERTa's shape (RoBERTa-large); every other field is the test model's. */
export const ROSBERTA_SHAPE = {
  ...TINY_CONFIG,
  hidden_size: 1024,
  intermediate_size: 4096,
  max_position_embeddings: 514,
  num_attention_heads: 16,
  num_hidden_layers: 24,
  vocab_size: 50265,
} as const;

export interface ShapeOptions {
  readonly layers?: number;
  readonly hidden?: number;
  /** Default: hidden / 64, as in BERT-family models. */
  readonly heads?: number;
  /** Default: 4 × hidden. */
  readonly intermediate?: number;
  readonly vocab?: number;
  readonly dtype?: 'F32' | 'F16' | 'BF16';
  readonly seed?: number;
}

/** Writes config, tokenizer, pooling (CLS, the two prompts) and model.safetensors into `outDir`. */
export function writeShapedCheckpoint(outDir: string,
  o: ShapeOptions = {}): { readonly config: EncoderConfig; readonly parameters: number } {
  const out = resolve(outDir);
  const hidden = o.hidden ?? ROSBERTA_SHAPE.hidden_size;
  const configJson = {
    ...ROSBERTA_SHAPE,
    hidden_size: hidden,
    num_attention_heads: o.heads ?? (o.hidden === undefined ? ROSBERTA_SHAPE.num_attention_heads : Math.max(1, hidden / 64)),
    intermediate_size: o.intermediate ?? (o.hidden === undefined ? ROSBERTA_SHAPE.intermediate_size : 4 * hidden),
    num_hidden_layers: o.layers ?? ROSBERTA_SHAPE.num_hidden_layers,
    vocab_size: o.vocab ?? ROSBERTA_SHAPE.vocab_size,
  };
  const cfg = parseEncoderConfig(configJson);
  mkdirSync(join(out, '1_Pooling'), { recursive: true });
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  writeFileSync(join(out, 'config.json'), json(configJson));
  writeFileSync(join(out, 'tokenizer.json'),
    sizedTokenizerJson(readFileSync(join(TINY_MODEL_DIR, 'tokenizer.json'), 'utf8'), configJson.vocab_size));
  for (const f of [
    'tokenizer_config.json', 'special_tokens_map.json', 'modules.json', 'config_sentence_transformers.json', 'sentence_bert_config.json',
  ]) {
    copyFileSync(join(TINY_MODEL_DIR, f), join(out, f));
  }
  writeFileSync(join(out, '1_Pooling', 'config.json'), json({
    word_embedding_dimension: cfg.hiddenSize, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false,
    pooling_mode_max_tokens: false, pooling_mode_mean_sqrt_len_tokens: false, pooling_mode_weightedmean_tokens: false,
    pooling_mode_lasttoken: false, include_prompt: true,
  }));
  writeFileSync(join(out, 'README.md'), `# Random model in a real model's shape (embedsync benchmarks and tests)\n\n` +
    `Random weights; the tokenizer is embedsync's test tokenizer grown to the vocabulary size with synthetic merges.\n`);
  // Generated as F32, stored in the requested dtype (the writer rounds to F16 / BF16).
  const dtype = o.dtype ?? 'F32';
  const weights = new Map([...randomEncoderWeights(cfg, { seed: o.seed ?? 424242 })].map(([k, t]) => [k, { ...t, dtype }] as const));
  const part = join(out, 'model.safetensors.part');
  const fd = openSync(part, 'w');
  try {
    writeSafetensorsToFd(fd, weights, { format: 'pt' });
  } finally {
    closeSync(fd);
  }
  renameSync(part, join(out, 'model.safetensors'));
  return { config: cfg, parameters: [...weights.values()].reduce((s, t) => s + t.data.length, 0) };
}
