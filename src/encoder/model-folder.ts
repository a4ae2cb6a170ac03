// Reads a Hugging Face / sentence-transformers model folder: which ONNX file to run, the tokenizer, and the
// pooling / prompt / normalize / max-length settings, with errors that name the missing file and the folder.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { POOLING_MODES, type PoolingMode, type Role } from './types.ts';
import { maxSequenceLength, parseEncoderConfig } from '../model/checkpoint.ts';
import type { Dtype } from '../config/index.ts';

export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
}

export interface PromptOverrides {
  readonly query?: string | undefined;
  readonly document?: string | undefined;
}

export interface ModelFolder {
  readonly dir: string;
  /** Path relative to dir, e.g. onnx/model.onnx. */
  readonly onnxFile: string;
  readonly tokenizerJson: Uint8Array;
  readonly tokenizerConfig: Readonly<Record<string, unknown>>;
  readonly pooling: PoolingMode;
  /** false: prompt tokens are left out of mean/max/lasttoken pooling (sentence-transformers include_prompt). */
  readonly includePrompt: boolean;
  readonly prompts: Readonly<Record<Role, string>>;
  /** Whether modules.json ends with a Normalize module. */
  readonly normalize: boolean;
  readonly maxTokens: number;
  /** word_embedding_dimension from the pooling config, checked against the model's output. */
  readonly declaredDimensions: number | undefined;
  readonly padTokenId: number | undefined;
}

export const ONNX_FILES: Readonly<Record<Dtype, string>> = { fp32: 'onnx/model.onnx', int8: 'onnx/model_quantized.onnx' };

async function exists(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

async function readJson(dir: string, file: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || required) {
      throw new ModelFolderError(`cannot read ${file} in model folder ${dir}: ${(err as Error).message}`, { cause: err });
    }
    return undefined;
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ModelFolderError(`${file} in model folder ${dir} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function poolingMode(cfg: Record<string, unknown>, where: string): PoolingMode {
  const unsupported = ['pooling_mode_mean_sqrt_len_tokens', 'pooling_mode_weightedmean_tokens'].filter((k) => cfg[k] === true);
  const modes: Record<PoolingMode, string> = {
    cls: 'pooling_mode_cls_token', mean: 'pooling_mode_mean_tokens', max: 'pooling_mode_max_tokens', lasttoken: 'pooling_mode_lasttoken',
  };
  const on = POOLING_MODES.filter((m) => cfg[modes[m]] === true);
  if (unsupported.length || on.length !== 1) {
    throw new ModelFolderError(`${where}: exactly one of ${Object.values(modes).join(', ')} must be true` +
      (unsupported.length ? ` (${unsupported.join(', ')} is not supported)` : ` (found ${on.length})`));
  }
  return on[0]!;
}

/** Reads and validates the folder; `dtype` picks onnx/model.onnx or onnx/model_quantized.onnx. */
export async function readModelFolder(dir: string, dtype: Dtype, overrides: PromptOverrides = {}): Promise<ModelFolder> {
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) throw new ModelFolderError(`model folder ${dir} does not exist`);
  const onnxFile = ONNX_FILES[dtype];
  if (!(await exists(join(dir, onnxFile)))) {
    throw new ModelFolderError(`model folder ${dir} has no ${onnxFile}` + (dtype === 'int8'
      ? ' (EMBEDDING_DTYPE=int8 needs a quantized model: embedsync model import --quantize int8)'
      : (await exists(join(dir, 'model.safetensors'))) ? ' (it has model.safetensors: run embedsync model import)' : ''));
  }
  let tokenizerJson: Uint8Array;
  try {
    tokenizerJson = await readFile(join(dir, 'tokenizer.json'));
  } catch (err) {
    throw new ModelFolderError(`model folder ${dir} has no readable tokenizer.json: ${(err as Error).message}`, { cause: err });
  }
  const tokenizerConfig = (await readJson(dir, 'tokenizer_config.json', false)) ?? {};
  const modules = (await readJson(dir, 'modules.json', false)) as unknown as { type?: string; path?: string }[] | undefined;
  const poolingModule = modules?.find((m) => m.type?.endsWith('Pooling'));
  const poolingPath = join(poolingModule?.path || '1_Pooling', 'config.json');
  const poolingCfg = await readJson(dir, poolingPath, poolingModule !== undefined);
  const stCfg = await readJson(dir, 'config_sentence_transformers.json', false);
  const sbertCfg = await readJson(dir, 'sentence_bert_config.json', false);
  const hfCfg = await readJson(dir, 'config.json', false);

  const prompts = (stCfg?.prompts ?? {}) as Record<string, unknown>;
  const pick = (...names: string[]): string => {
    const hit = names.map((n) => prompts[n]).find((p) => typeof p === 'string');
    return hit ?? '';
  };
  const roles: Record<Role, string> = {
    query: overrides.query ?? pick('search_query', 'query'),
    document: overrides.document ?? pick('search_document', 'document', 'passage'),
  };

  const limits: number[] = [];
  if (typeof sbertCfg?.max_seq_length === 'number') limits.push(sbertCfg.max_seq_length);
  // transformers uses a huge sentinel when the tokenizer sets no limit.
  if (typeof tokenizerConfig.model_max_length === 'number' && tokenizerConfig.model_max_length < 1e9) {
    limits.push(tokenizerConfig.model_max_length);
  }
  if (hfCfg && ['bert', 'roberta', 'xlm-roberta'].includes(String(hfCfg.model_type))) {
    try {
      limits.push(maxSequenceLength(parseEncoderConfig(hfCfg, join(dir, 'config.json'))));
    } catch { /* an unusual config.json does not stop a ready ONNX model from loading */ }
  }
  const maxTokens = limits.length ? Math.min(...limits) : 512;
  if (!(maxTokens >= 3)) throw new ModelFolderError(`model folder ${dir}: max sequence length ${maxTokens} is too small`);

  return {
    dir,
    onnxFile,
    tokenizerJson,
    tokenizerConfig,
    // sentence-transformers' default without a pooling config is mean pooling.
    pooling: poolingCfg ? poolingMode(poolingCfg, join(dir, poolingPath)) : 'mean',
    includePrompt: poolingCfg?.include_prompt !== false,
    prompts: roles,
    normalize: modules?.some((m) => m.type?.endsWith('Normalize')) ?? false,
    maxTokens,
    declaredDimensions: typeof poolingCfg?.word_embedding_dimension === 'number' ? poolingCfg.word_embedding_dimension : undefined,
    padTokenId: typeof hfCfg?.pad_token_id === 'number' ? hfCfg.pad_token_id : undefined,
  };
}
