// Writes the project's test model: a RoBERTa-style encoder with seeded random weights (2 layers, hidden 64,
// 4 heads) in ru-en-RoSBERTa's folder layout (HF checkpoint + byte-level BPE tokenizer + sentence-transformers
// files + onnx/model.onnx converted from the checkpoint). Same code → same bytes, on any machine: weights
// come from an integer PRNG and plain arithmetic only.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BYTE_TO_CHAR, learnByteLevelBpe } from './byte-level-bpe.ts';
import { parseEncoderConfig, usesPaddingOffsetPositions, type EncoderConfig } from './checkpoint.ts';
import { convertCheckpoint } from './convert-checkpoint.ts';
import { parseSafetensors, writeSafetensors, type TensorToWrite } from './safetensors.ts';
import { TINY_CORPUS } from './tiny-corpus.ts';
import { prng } from './prng.ts';

const HIDDEN = 64;
const LAYERS = 2;
const HEADS = 4;
const INTERMEDIATE = 128;
const VOCAB = 512;
const MAX_POSITIONS = 514;
const SPECIAL = ['<s>', '<pad>', '</s>', '<unk>'] as const;
const MASK = '<mask>';
/** Kept constant so regenerating with a newer embedsync gives the same bytes. */
const PRODUCER_VERSION = 'tiny-1';

export const TINY_CONFIG = {
  architectures: ['RobertaModel'],
  attention_probs_dropout_prob: 0.1,
  bos_token_id: 0,
  eos_token_id: 2,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: HIDDEN,
  initializer_range: 0.02,
  intermediate_size: INTERMEDIATE,
  layer_norm_eps: 1e-5,
  max_position_embeddings: MAX_POSITIONS,
  model_type: 'roberta',
  num_attention_heads: HEADS,
  num_hidden_layers: LAYERS,
  pad_token_id: 1,
  position_embedding_type: 'absolute',
  type_vocab_size: 1,
  vocab_size: VOCAB,
} as const;

export interface RandomWeightsOptions {
  readonly seed: number;
  readonly dtype?: 'F32' | 'F16';
  /** Model-class prefix of every name, e.g. "bert." (sentence-transformers checkpoints have none). */
  readonly prefix?: string;
}

/** Seeded random weights for any BERT-family config, with HF parameter names (tests and benchmarks). */
export function randomEncoderWeights(cfg: EncoderConfig,
  { seed, dtype = 'F32', prefix = '' }: RandomWeightsOptions): Map<string, TensorToWrite> {
  const rand = prng(seed);
  const H = cfg.hiddenSize;
  const out = new Map<string, TensorToWrite>();
  const uniform = (name: string, shape: number[], scale: number, offset = 0): Float32Array => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = offset + (rand() * 2 - 1) * scale;
    out.set(prefix + name, { dtype, shape, data });
    return data;
  };
  const linear = (base: string, inSize: number, outSize: number) => {
    uniform(`${base}.weight`, [outSize, inSize], Math.sqrt(3 / inSize));
    uniform(`${base}.bias`, [outSize], 0.05);
  };
  const layerNorm = (base: string) => {
    uniform(`${base}.weight`, [H], 0.1, 1);
    uniform(`${base}.bias`, [H], 0.05);
  };
  // HF zeroes the padding_idx rows of the word (and, for RoBERTa, position) tables.
  const pad = cfg.padTokenId;
  uniform('embeddings.word_embeddings.weight', [cfg.vocabSize, H], 0.2).fill(0, pad * H, (pad + 1) * H);
  const positions = uniform('embeddings.position_embeddings.weight', [cfg.maxPositions, H], 0.2);
  if (usesPaddingOffsetPositions(cfg)) positions.fill(0, pad * H, (pad + 1) * H);
  uniform('embeddings.token_type_embeddings.weight', [cfg.typeVocabSize, H], 0.2);
  layerNorm('embeddings.LayerNorm');
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    linear(`${p}.attention.self.query`, H, H);
    linear(`${p}.attention.self.key`, H, H);
    linear(`${p}.attention.self.value`, H, H);
    linear(`${p}.attention.output.dense`, H, H);
    layerNorm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, H, cfg.intermediateSize);
    linear(`${p}.output.dense`, cfg.intermediateSize, H);
    layerNorm(`${p}.output.LayerNorm`);
  }
  return out;
}

function tinyTokenizer(): unknown {
  const learned = learnByteLevelBpe(TINY_CORPUS, VOCAB - SPECIAL.length - 1 - BYTE_TO_CHAR.length);
  const vocab: Record<string, number> = {};
  [...SPECIAL, ...learned.tokens, MASK].forEach((t, i) => { vocab[t] = i; });
  if (Object.keys(vocab).length !== VOCAB) throw new Error(`tokenizer has ${Object.keys(vocab).length} tokens, expected ${VOCAB}`);
  const added = (content: string, lstrip = false) => ({
    id: vocab[content], content, single_word: false, lstrip, rstrip: false, normalized: content === MASK ? false : true, special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...SPECIAL.map((s) => added(s)), added(MASK, true)],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: learned.merges,
    },
  };
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/** Every file of the test model, path (relative, '/'-separated) → bytes. */
export function buildTinyModel(seed = 20240917): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const text = (path: string, s: string) => files.set(path, new TextEncoder().encode(s));
  const config = parseEncoderConfig(TINY_CONFIG);
  const safetensors = writeSafetensors(randomEncoderWeights(config, { seed, dtype: 'F16' }), { format: 'pt' });
  const onnx = convertCheckpoint({
    config,
    weights: parseSafetensors(safetensors).tensors,
    producerVersion: PRODUCER_VERSION,
  });
  text('README.md', [
    '# tiny-roberta (embedsync test model)',
    '',
    'A RoBERTa-style encoder with **random weights** (2 layers, hidden 64, 4 heads), laid out like',
    'ai-forever/ru-en-RoSBERTa: CLS pooling, Normalize, `search_query: ` / `search_document: ` prompts.',
    'Its vectors carry no meaning; it exists to test embedsync end to end.',
    'Regenerate with `embedsync model make-test <dir>` (byte-for-byte identical).',
    '',
  ].join('\n'));
  text('config.json', json(TINY_CONFIG));
  files.set('model.safetensors', safetensors);
  text('tokenizer.json', json(tinyTokenizer()));
  text('tokenizer_config.json', json({
    add_prefix_space: false, bos_token: '<s>', clean_up_tokenization_spaces: false, cls_token: '<s>', eos_token: '</s>',
    errors: 'replace', mask_token: MASK, model_max_length: 512, pad_token: '<pad>', sep_token: '</s>',
    tokenizer_class: 'RobertaTokenizer', trim_offsets: true, unk_token: '<unk>',
  }));
  text('special_tokens_map.json', json({
    bos_token: '<s>', cls_token: '<s>', eos_token: '</s>', mask_token: MASK, pad_token: '<pad>', sep_token: '</s>', unk_token: '<unk>',
  }));
  text('sentence_bert_config.json', json({ max_seq_length: 512, do_lower_case: false }));
  text('modules.json', json([
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
  ]));
  text('1_Pooling/config.json', json({
    word_embedding_dimension: HIDDEN, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false,
    pooling_mode_max_tokens: false, pooling_mode_mean_sqrt_len_tokens: false, pooling_mode_weightedmean_tokens: false,
    pooling_mode_lasttoken: false, include_prompt: true,
  }));
  text('config_sentence_transformers.json', json({
    prompts: { search_query: 'search_query: ', search_document: 'search_document: ' },
    default_prompt_name: null,
    similarity_fn_name: 'cosine',
  }));
  files.set('onnx/model.onnx', onnx);
  return files;
}

/** Writes the test model into `dir` (created if needed); returns the relative paths written. */
export async function writeTinyModel(dir: string): Promise<string[]> {
  const files = buildTinyModel();
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  return [...files.keys()];
}
