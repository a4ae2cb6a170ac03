// The local backend: a model folder run with ONNX Runtime in this process.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { planBatches } from './batching.ts';
import { readModelFolder, type ModelFolder, type PromptOverrides } from './model-folder.ts';
import { acquireSession, readOnnx, type SharedSession } from './onnx-session.ts';
import { paddedFeeds } from './padded-feeds.ts';
import type { RunScheduler } from './run-scheduler.ts';
import { l2Normalize, pool } from './pooling.ts';
import { TextTokenizer } from './text-tokenizer.ts';
import { EncodeError, ROLES, type EncodeOptions, type EncodeResult, type EncodeSource, type Encoder, type ModelInfo, type Role } from './types.ts';
import type { Dtype } from '../config/index.ts';

export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface LocalEncoderOptions {
  readonly dir: string;
  /** Shown as info.name (the hub id when the folder came from the hub). */
  readonly name?: string;
  readonly dtype: Dtype;
  readonly threads: number;
  readonly maxBatchTokens: number;
  readonly prompts?: PromptOverrides;
  /** The sync worker's share of the encoder's time while the HTTP API wants it too (EMBEDSYNC_SYNC_SHARE). */
  readonly syncShare?: number;
}

/**
 * model_checksum: sha256 over the ONNX bytes loaded, tokenizer.json, and every setting that changes the
 * vector (pooling, include_prompt, prompts, normalize, max length), first 16 hex chars.
 */
export function modelChecksum(onnxDigest: Uint8Array, folder: ModelFolder): string {
  const settings = {
    pooling: folder.pooling, includePrompt: folder.includePrompt, prompts: folder.prompts,
    normalize: folder.normalize, maxTokens: folder.maxTokens,
  };
  return createHash('sha256')
    .update(onnxDigest)
    .update(createHash('sha256').update(folder.tokenizerJson).digest())
    .update(JSON.stringify(settings))
    .digest('hex')
    .slice(0, 16);
}

export async function createLocalEncoder(opts: LocalEncoderOptions): Promise<Encoder> {
  const started = performance.now();
  const folder = await readModelFolder(opts.dir, opts.dtype, opts.prompts);
  let tokenizer: TextTokenizer;
  try {
    tokenizer = TextTokenizer.of(folder);
  } catch (err) {
    throw new Error(`tokenizer.json in model folder ${opts.dir} cannot be used: ${(err as Error).message}`, { cause: err });
  }
  const onnxPath = join(opts.dir, folder.onnxFile);
  const loaded = await readOnnx(onnxPath);
  let session: SharedSession;
  try {
    session = await acquireSession(loaded, opts.threads, opts.syncShare);
  } catch (err) {
    throw new Error(`ONNX Runtime cannot load ${folder.onnxFile} in model folder ${opts.dir}: ${(err as Error).message}`, { cause: err });
  }
  const encoder = new LocalEncoder(folder, tokenizer, session, opts.maxBatchTokens);
  try {
    // One warm-up run: learns the output dimension from the model and pays first-run costs at start-up.
    const probe = await encoder.encode([''], 'query');
    const dimensions = probe.vectors[0]!.length;
    if (folder.declaredDimensions !== undefined && folder.declaredDimensions !== dimensions) {
      throw new Error(`model folder ${opts.dir}: pooling config says ${folder.declaredDimensions} dimensions, the model outputs ${dimensions}`);
    }
    encoder.info = {
      name: opts.name ?? opts.dir,
      backend: 'local',
      dimensions,
      pooling: folder.pooling,
      prompts: folder.prompts,
      normalize: folder.normalize,
      maxTokens: folder.maxTokens,
      checksum: modelChecksum(loaded.digest, folder),
      version: PACKAGE_VERSION,
      file: folder.onnxFile,
      loadTimeSeconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    await session.release();
    throw err;
  }
  return encoder;
}

class LocalEncoder implements Encoder {
  info!: ModelInfo;
  private readonly promptLengths: Readonly<Record<Role, number>>;
  private closed = false;

  /** Who gets the session next: the sync worker or the HTTP API (for metrics and tests). */
  get scheduler(): RunScheduler {
    return this.session.scheduler;
  }

  constructor(
    private readonly folder: ModelFolder,
    private readonly tokenizer: TextTokenizer,
    private readonly session: SharedSession,
    private readonly maxBatchTokens: number,
  ) {
    const lengths = {} as Record<Role, number>;
    for (const r of ROLES) lengths[r] = folder.includePrompt ? 0 : tokenizer.promptLength(folder.prompts[r]);
    this.promptLengths = lengths;
  }

  /**
   * Vectors come back L2-normalized whether or not the model declares a Normalize module: stored vectors are
   * compared by cosine / inner product, and a unit vector has the same cosine as the raw one.
   */
  async encode(texts: readonly string[], role: Role, options: EncodeOptions = {}): Promise<EncodeResult> {
    if (this.closed) throw new EncodeError('encoder is closed', 'unavailable');
    const source: EncodeSource = options.source ?? 'sync';
    const prompt = this.folder.prompts[role];
    // Tokenizing runs on the same thread as the model: it counts towards the caller's share of the encoder.
    const tokenizeStart = performance.now();
    const tokenized = texts.map((text, i) => {
      if (typeof text !== 'string') throw new EncodeError(`input ${i} is not a string`, 'input', i);
      try {
        return this.tokenizer.encode(prompt, text);
      } catch (err) {
        throw new EncodeError(`input ${i} cannot be tokenized: ${(err as Error).message}`, 'input', i, { cause: err });
      }
    });
    this.session.scheduler.charge(source, (performance.now() - tokenizeStart) / 1000);
    const vectors: Float32Array[] = new Array(texts.length);
    let tokens = 0;
    for (const batch of planBatches(tokenized.map((t) => t.ids.length), this.maxBatchTokens)) {
      if (options.signal?.aborted) throw new EncodeError('encoding aborted', 'timeout', undefined, { cause: options.signal.reason });
      const rows = batch.map((i) => tokenized[i]!.ids);
      const out = await this.runBatch(rows, this.promptLengths[role], source, options.signal);
      batch.forEach((inputIndex, r) => { vectors[inputIndex] = out[r]!; });
      for (const row of rows) tokens += row.length;
    }
    return { vectors, tokens, truncated: tokenized.filter((t) => t.truncated).length };
  }

  /** Pads one batch, runs the model, pools (from token `poolStart`) and normalizes each row. */
  private async runBatch(rows: readonly (readonly number[])[], poolStart: number, source: EncodeSource, signal: AbortSignal | undefined): Promise<Float32Array[]> {
    const feeds = paddedFeeds(rows, this.tokenizer.padId, this.session.inputNames.includes('token_type_ids'));
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.session.run(feeds, source, signal);
    } catch (err) {
      if (err instanceof EncodeError) throw err; // aborted while waiting for its turn
      throw new EncodeError(`model run failed: ${(err as Error).message}`, 'internal', undefined, { cause: err });
    }
    const name = ['last_hidden_state', 'token_embeddings'].find((n) => this.session.outputNames.includes(n)) ?? this.session.outputNames[0]!;
    const output = result[name]!;
    const data = output.data as Float32Array;
    const H = output.dims.at(-1)!;
    const width = feeds.input_ids!.dims[1]!;
    return rows.map((row, r) => {
      const v = output.dims.length === 2
        ? data.slice(r * H, (r + 1) * H) // the graph already pools (sentence_embedding)
        : pool(this.folder.pooling, data.subarray(r * width * H, (r + 1) * width * H), H, row.length, poolStart);
      return l2Normalize(v);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }
}
