// Turns a Hugging Face checkpoint folder (config.json + model.safetensors or sharded safetensors, tokenizer
// and sentence-transformers files) into the layout the encoder loads: onnx/model.onnx (fp32) and, with
// quantize int8, onnx/model_quantized.onnx, plus the tokenizer / config files copied when the output is
// another folder. Weights stream one tensor at a time from the checkpoint into the ONNX file.
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CheckpointError, parseEncoderConfig, type EncoderConfig } from './checkpoint.ts';
import { writeConvertedModel } from './convert-checkpoint.ts';
import type { GraphVariant, Int8Kernel } from './encoder-graph.ts';
import type { WrittenOnnx } from './onnx-file.ts';
import { SafetensorsError } from './safetensors-format.ts';
import { openCheckpointTensors } from './sharded-checkpoint.ts';

/** The graph import writes unless told otherwise: the faster one in bench/model.ts on this project's CPUs. */
export const DEFAULT_VARIANT: GraphVariant = 'fused';
export const DEFAULT_INT8_KERNEL: Int8Kernel = 'dqmatmul';
/**
 * Models above this keep their weights in `<model>.onnx_data` (page-aligned external data): ONNX Runtime
 * maps that file instead of parsing a copy of every weight out of the protobuf, which measured 1.3 GB → 0.44 GB
 * peak RSS for the RoSBERTa-shaped int8 encoder. Past 2 GB external data is required anyway.
 */
export const EXTERNAL_DATA_ABOVE = 64 << 20;

/** Files copied next to the ONNX model when they exist (the weights are not: the ONNX file replaces them). */
export const COPIED_FILES = [
  'config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json',
  'vocab.json', 'merges.txt', 'vocab.txt', 'sentencepiece.bpe.model',
  'modules.json', 'config_sentence_transformers.json', 'sentence_bert_config.json', 'README.md',
] as const;

export interface ImportOptions {
  /** Output folder (default: the checkpoint folder itself). */
  readonly outDir?: string;
  readonly quantize?: 'int8' | undefined;
  /**
   * Write onnx/model.onnx (default true). A cache that already holds an fp32 file, or whose hub repo ships
   * its own, asks for the int8 file alone: rewriting the fp32 one would change its checksum.
   */
  readonly writeFp32?: boolean;
  readonly variant?: GraphVariant;
  readonly int8Kernel?: Int8Kernel;
  /** Model size above which weights go to external data (default EXTERNAL_DATA_ABOVE; tests force a tiny value). */
  readonly externalDataThreshold?: number;
  readonly producerVersion?: string;
  /** One line per step, for the CLI. */
  readonly log?: (line: string) => void;
}

export interface ImportResult {
  readonly outDir: string;
  readonly config: EncoderConfig;
  /** The checkpoint files read (model.safetensors, or the index and its shards). */
  readonly checkpointFiles: readonly string[];
  readonly written: readonly WrittenOnnx[];
  /** Relative paths copied into outDir. */
  readonly copied: readonly string[];
  readonly seconds: number;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

async function readJson(path: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CheckpointError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Module folders named in modules.json (e.g. 1_Pooling), whose config files the encoder reads. */
async function moduleFiles(dir: string): Promise<string[]> {
  const modules = await readJson(join(dir, 'modules.json'), false);
  const paths = Array.isArray(modules)
    ? modules.map((m) => (m as { path?: unknown }).path).filter((p): p is string => typeof p === 'string' && p !== '')
    : ['1_Pooling'];
  const out: string[] = [];
  for (const p of paths) {
    if (p.includes('..') || p.startsWith('/')) {
      throw new CheckpointError(`${join(dir, 'modules.json')}: module path ${JSON.stringify(p)} leaves the folder`);
    }
    if (await isFile(join(dir, p, 'config.json'))) out.push(`${p}/config.json`);
  }
  return out;
}

/** Imports the checkpoint in `srcDir`; see ImportOptions. Fails before writing anything when inputs are wrong. */
export async function importModel(srcDir: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const outDir = resolve(opts.outDir ?? srcDir);
  const fp32 = opts.writeFp32 ?? true;
  if (!fp32 && opts.quantize !== 'int8') {
    throw new CheckpointError('nothing to import: writeFp32 is false and no quantization was asked for');
  }
  const config = parseEncoderConfig(await readJson(join(srcDir, 'config.json'), true), join(srcDir, 'config.json'));
  if (!(await isFile(join(srcDir, 'tokenizer.json')))) {
    throw new CheckpointError(`${srcDir} has no tokenizer.json (embedsync tokenizes with the tokenizer.json of the model)`);
  }
  let checkpoint: ReturnType<typeof openCheckpointTensors>;
  try {
    checkpoint = openCheckpointTensors(srcDir);
  } catch (err) {
    if (err instanceof SafetensorsError || (err as NodeJS.ErrnoException).code) {
      throw new CheckpointError(`cannot read the checkpoint: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
  const written: WrittenOnnx[] = [];
  try {
    await mkdir(join(outDir, 'onnx'), { recursive: true });
    const variant = opts.variant ?? DEFAULT_VARIANT;
    const common = {
      config, weights: checkpoint.tensors, producerVersion: opts.producerVersion ?? '0', variant,
    } as const;
    const writeOpts = { externalDataThreshold: opts.externalDataThreshold ?? EXTERNAL_DATA_ABOVE };
    const what = [...(fp32 ? ['fp32'] : []), ...(opts.quantize ? [opts.quantize] : [])].join(' + ');
    log(`converting ${config.modelType} (${config.numLayers} layers, hidden ${config.hiddenSize}) from ${checkpoint.files.join(', ')}: ` +
      `${variant} graph, ${what}`);
    if (fp32) written.push(writeConvertedModel(join(outDir, 'onnx', 'model.onnx'), { ...common, weightType: 'fp32' }, writeOpts));
    if (opts.quantize === 'int8') {
      const int8Kernel = opts.int8Kernel ?? DEFAULT_INT8_KERNEL;
      log(`quantizing the large MatMuls to int8 (${int8Kernel}); embeddings and LayerNorms stay fp32`);
      written.push(writeConvertedModel(join(outDir, 'onnx', 'model_quantized.onnx'), { ...common, weightType: 'int8', int8Kernel },
        writeOpts));
    }
  } finally {
    checkpoint.close();
  }
  const copied: string[] = [];
  if (resolve(srcDir) !== outDir) {
    for (const f of [...COPIED_FILES, ...(await moduleFiles(srcDir))]) {
      if (!(await isFile(join(srcDir, f)))) continue;
      await mkdir(dirname(join(outDir, f)), { recursive: true });
      await copyFile(join(srcDir, f), join(outDir, f));
      copied.push(f);
    }
  }
  return { outDir, config, checkpointFiles: checkpoint.files, written, copied, seconds: (performance.now() - started) / 1000 };
}

