// A Hugging Face BERT/RoBERTa encoder checkpoint: config.json fields and parameter lookup by HF name,
// independent of the model-class prefix ("bert.", "roberta.", or none).
import { toFloat32 } from './dtype-conversion.ts';
import type { TensorEntry } from './safetensors-format.ts';

export const MODEL_TYPES = ['bert', 'roberta', 'xlm-roberta'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

export interface EncoderConfig {
  readonly modelType: ModelType;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly typeVocabSize: number;
  readonly layerNormEps: number;
  readonly padTokenId: number;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Validates config.json of a BERT-family encoder; lists every problem at once. */
export function parseEncoderConfig(json: unknown, label = 'config.json'): EncoderConfig {
  const c = (json ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  const num = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      problems.push(`${key} missing or not a number`);
      return 0;
    }
    return v;
  };
  const modelType = c.model_type as ModelType;
  if (!MODEL_TYPES.includes(modelType)) problems.push(`model_type ${JSON.stringify(c.model_type)} is not one of ${MODEL_TYPES.join(', ')}`);
  const act = c.hidden_act ?? 'gelu';
  if (act !== 'gelu') problems.push(`hidden_act ${JSON.stringify(act)} is not supported (only exact "gelu")`);
  const pet = c.position_embedding_type ?? 'absolute';
  if (pet !== 'absolute') problems.push(`position_embedding_type ${JSON.stringify(pet)} is not supported (only "absolute")`);
  const cfg: EncoderConfig = {
    modelType,
    hiddenSize: num('hidden_size'),
    numLayers: num('num_hidden_layers'),
    numHeads: num('num_attention_heads'),
    intermediateSize: num('intermediate_size'),
    vocabSize: num('vocab_size'),
    maxPositions: num('max_position_embeddings'),
    typeVocabSize: num('type_vocab_size', 2),
    layerNormEps: num('layer_norm_eps', 1e-12),
    padTokenId: num('pad_token_id', modelType === 'bert' ? 0 : 1),
  };
  if (cfg.numHeads > 0 && cfg.hiddenSize % cfg.numHeads !== 0) {
    problems.push(`hidden_size ${cfg.hiddenSize} is not a multiple of num_attention_heads ${cfg.numHeads}`);
  }
  if (problems.length) throw new CheckpointError(`${label}: ${problems.join('; ')}`);
  return cfg;
}

/** RoBERTa-style models offset positions past the padding index. */
export function usesPaddingOffsetPositions(cfg: EncoderConfig): boolean {
  return cfg.modelType !== 'bert';
}

/** Longest input (tokens incl. specials) the position table allows. */
export function maxSequenceLength(cfg: EncoderConfig): number {
  return usesPaddingOffsetPositions(cfg) ? cfg.maxPositions - cfg.padTokenId - 1 : cfg.maxPositions;
}

export interface Parameter {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Looks up HF parameters by their name without the model prefix, checking shapes. */
export class CheckpointWeights {
  private readonly prefix: string;

  constructor(private readonly tensors: ReadonlyMap<string, TensorEntry>, private readonly label = 'checkpoint') {
    const key = [...tensors.keys()].find((k) => k.endsWith('embeddings.word_embeddings.weight'));
    if (key === undefined) throw new CheckpointError(`${label}: no embeddings.word_embeddings.weight tensor; not a BERT-family checkpoint`);
    this.prefix = key.slice(0, -'embeddings.word_embeddings.weight'.length);
  }

  has(name: string): boolean {
    return this.tensors.has(this.prefix + name);
  }

  /** Fetches `name` (or the first legacy alias present, e.g. LayerNorm.gamma) as float32. */
  get(name: string, shape: readonly number[], ...aliases: string[]): Parameter {
    const found = [name, ...aliases].map((n) => this.prefix + n).find((n) => this.tensors.has(n));
    if (found === undefined) throw new CheckpointError(`${this.label}: missing tensor ${this.prefix + name}`);
    const t = this.tensors.get(found)!;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`${this.label}: ${found} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return { shape, data: toFloat32(t) };
  }

  layerNorm(base: string, size: number): { weight: Parameter; bias: Parameter } {
    return {
      weight: this.get(`${base}.weight`, [size], `${base}.gamma`),
      bias: this.get(`${base}.bias`, [size], `${base}.beta`),
    };
  }
}

/** [out, in] Linear weight → [in, out] for MatMul(x, W). */
export function transpose2d(p: Parameter): Float32Array {
  const [rows, cols] = p.shape as [number, number];
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = p.data[r * cols + c]!;
  return out;
}
