// The local backend: a model folder run with ONNX Runtime on worker threads (worker-pool.ts), so the main
// thread only does I/O. Each encode() call is cut into runs of about EMBEDDING_RUN_SECONDS (run-sizer.ts), and
// each run takes its turn on a worker through the fair scheduler between the sync worker and the HTTP API.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { estimatePeakBytes, fitSessions, MEMORY_SHARE } from './memory-fit.ts';
import { onnxFiles } from './onnx-session.ts';
import { readModelFolder, type ModelFolder, type PromptOverrides } from './model-folder.ts';
import { RunScheduler } from './run-scheduler.ts';
import { RunSizer } from './run-sizer.ts';
import {
  EncodeError, ROLES, type EncodeOptions, type EncodeResult, type EncodeSource, type Encoder, type ModelInfo, type Pace, type Role,
} from './types.ts';
import { TokenizerLoadError, WorkerPool, type WorkerExit } from './worker-pool.ts';
import {
  DEFAULT_INTERACTIVE_RUN_SECONDS, DEFAULT_RUN_SECONDS, DEFAULT_SYNC_SHARE, PACKAGE_VERSION, type Dtype, type MemoryLimit,
} from '../config/index.ts';


export interface LocalEncoderOptions {
  readonly dir: string;
  /** Shown as info.name (the hub id when the folder came from the hub). */
  readonly name?: string;
  readonly dtype: Dtype;
  /** Worker threads, one ONNX Runtime session each (EMBEDDING_SESSIONS). */
  readonly sessions?: number;
  /** Intra-op threads of each session (EMBEDDING_THREADS). */
  readonly threads: number;
  readonly maxBatchTokens: number;
  /** Target duration of one model run (EMBEDDING_RUN_SECONDS). */
  readonly runSeconds?: number;
  /** Run duration while queries or live rows are about (EMBEDDING_INTERACTIVE_RUN_SECONDS). */
  readonly interactiveRunSeconds?: number;
  /** A run longer than this is abandoned and its worker replaced. */
  readonly runTimeoutMs?: number;
  readonly prompts?: PromptOverrides;
  /** The sync worker's share of the encoder's time while the HTTP API wants it too (EMBEDSYNC_SYNC_SHARE). */
  readonly syncShare?: number;
  readonly onWorkerExit?: (e: WorkerExit) => void;
  /** Crash drills: a text containing this ends the process (EMBEDSYNC_CRASH_DRILL_TEXT). */
  readonly crashDrillText?: string;
  /** The memory limit, and (EMBEDDING_SESSIONS unset) the freedom to run fewer sessions to fit it (memory-fit.ts). */
  readonly memory?: { readonly limit: MemoryLimit; readonly auto: { readonly cores: number; readonly threadsSet: boolean } | undefined };
  /** Where the sessions chosen and the expected peak are reported. */
  readonly logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
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

/** The sessions and threads to run: as configured, or fewer sessions when EMBEDDING_SESSIONS is unset and memory is short. */
async function sessionsThatFit(opts: LocalEncoderOptions, onnxPath: string,
  tokenizerJson: number): Promise<{ sessions: number; threads: number }> {
  const wanted = { sessions: opts.sessions ?? 1, threads: opts.threads };
  if (!opts.memory) return wanted;
  const files = await onnxFiles(onnxPath);
  const weights = (await Promise.all(files.map((f) => stat(f)))).reduce((n, s) => n + s.size, 0);
  const { limit, auto } = opts.memory;
  const fit = auto ? fitSessions(wanted, auto, limit, { weights, tokenizerJson })
    : { ...wanted, estimateBytes: estimatePeakBytes(wanted.sessions, { weights, tokenizerJson }), reduced: false, tight: false };
  const mb = (b: number) => Math.round(b / 2 ** 20);
  const fields = {
    event: 'encoder_memory', sessions: fit.sessions, threads: fit.threads, estimate_mib: mb(fit.estimateBytes),
    limit_mib: mb(limit.bytes), limit_source: limit.source, ...(fit.reduced ? { sessions_for_cores: wanted.sessions } : {}),
  };
  const what = `${fit.sessions} encoder session${fit.sessions === 1 ? '' : 's'} × ${fit.threads} thread${fit.threads === 1 ? '' : 's'}: ` +
    `expected peak ~${mb(fit.estimateBytes)} MB of ${mb(limit.bytes)} MB (${limit.source})`;
  if (fit.estimateBytes > limit.bytes * MEMORY_SHARE) {
    opts.logger?.warn(fields, `${what}: above ${MEMORY_SHARE * 100}% of the limit; ` +
      (auto ? 'give the process more memory or use a smaller model' : 'lower EMBEDDING_SESSIONS or give the process more memory'));
  } else {
    opts.logger?.info(fields, fit.reduced ? `${what}; ${wanted.sessions} would not fit (EMBEDDING_SESSIONS overrides)` : what);
  }
  return fit;
}

export async function createLocalEncoder(opts: LocalEncoderOptions): Promise<Encoder> {
  const started = performance.now();
  const folder = await readModelFolder(opts.dir, opts.dtype, opts.prompts);
  const { sessions, threads } = await sessionsThatFit(opts, join(opts.dir, folder.onnxFile), folder.tokenizerJson.byteLength);
  const scheduler = new RunScheduler(opts.syncShare ?? DEFAULT_SYNC_SHARE, undefined, sessions);
  let pool: WorkerPool;
  try {
    pool = await WorkerPool.start({
      folder, onnxPath: join(opts.dir, folder.onnxFile), sessions, threads, scheduler,
      runTimeoutMs: opts.runTimeoutMs ?? 120_000,
      ...(opts.onWorkerExit ? { onWorkerExit: opts.onWorkerExit } : {}),
      ...(opts.crashDrillText ? { crashDrillText: opts.crashDrillText } : {}),
    });
  } catch (err) {
    if (err instanceof TokenizerLoadError) {
      throw new Error(`tokenizer.json in model folder ${opts.dir} cannot be used: ${err.message}`, { cause: err });
    }
    throw new Error(`ONNX Runtime cannot load ${folder.onnxFile} in model folder ${opts.dir}: ${(err as Error).message}`, { cause: err });
  }
  const sizer = new RunSizer(opts.runSeconds ?? DEFAULT_RUN_SECONDS, opts.maxBatchTokens, folder.maxTokens, sessions, undefined,
    { runSeconds: opts.interactiveRunSeconds ?? DEFAULT_INTERACTIVE_RUN_SECONDS, active: () => scheduler.interactive() });
  const encoder = new LocalEncoder(folder, pool.promptTokens, pool, scheduler, sizer, opts.maxBatchTokens);
  try {
    // One short probe through the whole path (each worker has warmed up on its own): learns the output dimension
    // from the model, and gives the pace a first, low measurement, so the first sync claims are small and the
    // first vectors land quickly while the pace learns the real speed.
    const probe = await encoder.encode(['warm-up'], 'query');
    const dimensions = probe.vectors[0]!.length;
    if (folder.declaredDimensions !== undefined && folder.declaredDimensions !== dimensions) {
      throw new Error(`model folder ${opts.dir}: pooling config says ${folder.declaredDimensions} dimensions, ` +
        `the model outputs ${dimensions}`);
    }
    encoder.info = {
      name: opts.name ?? opts.dir,
      backend: 'local',
      dimensions,
      pooling: folder.pooling,
      prompts: folder.prompts,
      normalize: folder.normalize,
      maxTokens: folder.maxTokens,
      checksum: modelChecksum(Buffer.from(pool.digest, 'hex'), folder),
      version: PACKAGE_VERSION,
      file: folder.onnxFile,
      loadTimeSeconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    await encoder.close();
    throw err;
  }
  return encoder;
}

class LocalEncoder implements Encoder {
  info!: ModelInfo;
  private readonly promptLengths: Readonly<Record<Role, number>>;
  private readonly promptTokens: Readonly<Record<Role, number>>;
  private closed = false;

  constructor(
    /** The model folder: its tokenizer counts a chunked table's chunks (chunking-encoder.ts). */
    readonly folder: ModelFolder,
    /** Tokens of each role's prompt (counted by a worker: only the workers hold a tokenizer). */
    promptTokens: Readonly<Record<Role, number>>,
    private readonly pool: WorkerPool,
    /** Who gets a worker next: the sync worker or the HTTP API (for metrics and tests). */
    readonly scheduler: RunScheduler,
    private readonly sizer: RunSizer,
    private readonly maxBatchTokens: number,
  ) {
    const lengths = {} as Record<Role, number>;
    for (const r of ROLES) lengths[r] = folder.includePrompt ? 0 : promptTokens[r];
    this.promptLengths = lengths;
    this.promptTokens = promptTokens;
  }

  /** The measured speed and the run size, for sizing sync claims. */
  get pace(): Pace {
    return this.sizer.pace;
  }

  /** The worker threads (tests stop one to check a crash is survived). */
  get workers(): WorkerPool {
    return this.pool;
  }

  /**
   * Vectors come back L2-normalized whether or not the model declares a Normalize module: stored vectors are
   * compared by cosine / inner product, and a unit vector has the same cosine as the raw one.
   *
   * An aborted `signal` drops the runs still waiting for a worker (the call rejects); runs already on a worker
   * finish, since each is bounded by the run duration.
   */
  async encode(texts: readonly string[], role: Role, options: EncodeOptions = {}): Promise<EncodeResult> {
    if (this.closed) throw new EncodeError('encoder is closed', 'unavailable');
    const source: EncodeSource = options.source ?? 'sync';
    texts.forEach((text, i) => {
      if (typeof text !== 'string') throw new EncodeError(`input ${i} is not a string`, 'input', i);
    });
    const prompt = this.folder.prompts[role];
    const vectors = new Array<Float32Array>(texts.length);
    let tokens = 0;
    let truncated = 0;
    // The first run to fail drops the runs still waiting: the call fails anyway, and its caller retries or
    // isolates without waiting for work it will throw away.
    const giveUp = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, giveUp.signal]) : giveUp.signal;
    const priority = options.priority ?? 'bulk';
    // A query is one short run; other work is cut short while urgent work is about (run-scheduler.ts).
    const plan = this.sizer.plan(texts, this.promptTokens[role],
      priority === 'live' || (priority === 'bulk' && this.scheduler.interactive()));
    setMaxListeners(plan.length + 10, signal); // one listener per run waiting for a worker
    const runs = plan.map(async ({ indices: group, cost }) => {
      let done;
      try {
        done = await this.pool.run({
          texts: group.map((i) => texts[i]!), prompt, poolStart: this.promptLengths[role], maxBatchTokens: this.maxBatchTokens,
          truncate: options.truncate ?? 'right',
        }, source, signal, cost, priority);
      } catch (err) {
        giveUp.abort(err);
        // An input error names the input within its run: map it back to the caller's index.
        if (err instanceof EncodeError && err.reason === 'input' && err.index !== undefined) {
          throw new EncodeError(err.message.replace(/^input \d+/, `input ${group[err.index]}`), 'input', group[err.index]);
        }
        throw err;
      }
      this.sizer.observe(done);
      group.forEach((inputIndex, r) => { vectors[inputIndex] = new Float32Array(done.vectors, r * done.dims * 4, done.dims); });
      tokens += done.tokens;
      truncated += done.truncated;
    });
    const settled = await Promise.allSettled(runs);
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
    if (failed.length > 0) {
      // Prefer the error that blames one input, so the caller can isolate it rather than retry everything; else
      // the first failure (every failure aborts giveUp, so its reason is the first), never a run it dropped.
      throw failed.find((e) => e instanceof EncodeError && e.reason === 'input') ?? giveUp.signal.reason;
    }
    return { vectors, tokens, truncated };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}
