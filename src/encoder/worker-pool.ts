// The encoder's worker threads, each owning one ONNX Runtime session (EMBEDDING_SESSIONS × EMBEDDING_THREADS).
// Runs are handed out by the RunScheduler (fair share between the sync worker and the HTTP API), at most one per
// worker. A worker that dies fails only its run, with reason 'internal' so the caller isolates or retries it, and
// is replaced; the process stays up. A run that overruns badly is abandoned: its caller gets the same error at
// once and a replacement worker starts.
//
// A worker is never terminated from outside: the binding cannot hand a run's result, or finalize its session,
// in a thread being torn down, and aborts the whole process (measured: "terminate called after throwing an
// instance of 'Napi::Error'"). Workers are asked to stop instead: each releases its session and ends its own
// thread. So an abandoned worker retires when its run returns, and close() waits for runs in flight, each
// bounded by the run size. A native crash inside ONNX Runtime (SIGSEGV) ends the process too: threads share
// it. What survives that is outside: leases bring the claimed rows back, the orchestrator restarts the daemon.
import { Worker } from 'node:worker_threads';
import type { ModelFolder } from './model-folder.ts';
import { filesFingerprint, hashFiles, onnxFiles } from './onnx-session.ts';
import { RunScheduler } from './run-scheduler.ts';
import { EncodeError, type EncodePriority, type EncodeSource, type Role } from './types.ts';
import type { RunDone, RunRequest, StopRequest, WorkerInit, WorkerMessage } from './worker/protocol.ts';

/**
 * The worker's entry: compiled, the worker is plain JavaScript next to this file; run from the TypeScript sources
 * (development and tests, through tsx), a worker does not inherit the loader, so entry.mjs registers it first.
 */
const ENTRY = import.meta.url.endsWith('.ts')
  ? new URL('./worker/entry.mjs', import.meta.url)
  : new URL('./worker/encode-worker.js', import.meta.url);
/**
 * A worker's young generation, capped: loading a real-sized tokenizer (50k-token vocabularies) spikes the heap,
 * and an isolate keeps the space it grew. Measured with a RoSBERTa-shaped model and a 50,265-token tokenizer,
 * two workers: peak RSS 1,086–1,113 MB at 4–8 MB against 1,182–1,204 MB uncapped, encoding time unchanged.
 */
const WORKER_YOUNG_GENERATION_MB = 8;

/** The worker could not load tokenizer.json (rather than the model). */
export class TokenizerLoadError extends Error {
  override name = 'TokenizerLoadError';
}

export const WORKER_EXIT_REASONS = ['crashed', 'overrun'] as const;
export type WorkerExitReason = (typeof WORKER_EXIT_REASONS)[number];

export interface WorkerExit {
  readonly worker: number;
  readonly reason: WorkerExitReason;
  readonly message: string;
}

export interface WorkerPoolOptions {
  readonly folder: ModelFolder;
  readonly onnxPath: string;
  readonly sessions: number;
  readonly threads: number;
  readonly scheduler: RunScheduler;
  /** A run longer than this is abandoned: its worker is retired and replaced. */
  readonly runTimeoutMs: number;
  /** Told about every worker that died or was abandoned (log line and metric). */
  readonly onWorkerExit?: (e: WorkerExit) => void;
  /** Crash drills: a text containing this ends the process (EMBEDSYNC_CRASH_DRILL_TEXT). */
  readonly crashDrillText?: string;
}

interface Job {
  readonly req: RunRequest;
  readonly resolve: (r: RunDone) => void;
  readonly reject: (err: unknown) => void;
  readonly watchdog: ReturnType<typeof setTimeout>;
}

interface Slot {
  readonly index: number;
  worker: Worker;
  ready: Promise<void>;
  isReady: boolean;
  job: Job | undefined;
  /** Set when we end the worker ourselves (its model failed to load, or close): its exit is expected. */
  closing: boolean;
  /** What the worker last said on its way out (an uncaught error's message, or why we ended it). */
  lastError?: string;
}

export class WorkerPool {
  readonly #o: WorkerPoolOptions;
  readonly #slots: Slot[] = [];
  #digest: string | undefined;
  #promptTokens: Readonly<Record<Role, number>> | undefined;
  /** The model files as the first worker loaded them; a replacement loads only the very same files. */
  #fingerprint = '';
  #files: readonly string[] = [];
  #nextId = 1;
  #closed = false;
  #freeWaiters: (() => void)[] = [];
  /** Abandoned workers still inside a run: asked to stop as soon as it returns. */
  readonly #retiring = new Set<Worker>();
  /** Why the pool cannot run at all (a replacement worker failed to load the model). */
  #broken: string | undefined;

  private constructor(o: WorkerPoolOptions) {
    this.#o = o;
  }

  /**
   * Resolves once the first worker has loaded the model (rejects with its load error). It loads the files while
   * this thread hashes them (the checksum's part); the rest start then and join as they load, so the first
   * vectors wait for neither. Later workers and replacements load only files with the same fingerprint.
   */
  static async start(o: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(o);
    const files = await onnxFiles(o.onnxPath);
    pool.#files = files;
    pool.#fingerprint = await filesFingerprint(files);
    pool.#slots.push(pool.#spawn(0));
    try {
      const [digest] = await Promise.all([hashFiles(files), pool.#slots[0]!.ready]);
      if (await filesFingerprint(files) !== pool.#fingerprint) throw new Error(`${o.onnxPath} changed on disk while it was loading`);
      pool.#digest = digest.toString('hex');
    } catch (err) {
      await pool.close();
      throw err;
    }
    for (let i = 1; i < o.sessions; i++) pool.#slots.push(pool.#spawn(i));
    return pool;
  }

  /** Tokens of each role's prompt, as the first worker's tokenizer counts them. */
  get promptTokens(): Readonly<Record<Role, number>> {
    return this.#promptTokens!;
  }

  /** sha256 (hex) of the ONNX bytes every worker loaded. */
  get digest(): string {
    return this.#digest!;
  }

  /** Runs one request on a free worker when the scheduler gives `source` its turn; `cost`: its estimated size. */
  run(req: Omit<RunRequest, 'id'>, source: EncodeSource, signal?: AbortSignal, cost = 0,
    priority: EncodePriority = 'bulk'): Promise<RunDone> {
    if (this.#closed) return Promise.reject(new EncodeError('encoder is closed', 'unavailable'));
    return this.#o.scheduler.run(source, () => this.#dispatch({ ...req, id: this.#nextId++ }), signal, cost, priority);
  }

  async #dispatch(req: RunRequest): Promise<RunDone> {
    for (;;) {
      if (this.#broken) throw new EncodeError(`encoder workers cannot start: ${this.#broken}`, 'unavailable');
      if (this.#closed) throw new EncodeError('encoder is closed', 'unavailable');
      const slot = this.#slots.find((s) => s.isReady && !s.job);
      if (slot) return this.#send(slot, req);
      // The scheduler never starts more runs than workers, so this waits only for a replacement to load.
      await new Promise<void>((resolve) => this.#freeWaiters.push(resolve));
    }
  }

  #send(slot: Slot, req: RunRequest): Promise<RunDone> {
    return new Promise<RunDone>((resolve, reject) => {
      const watchdog = setTimeout(() => this.#abandon(slot), this.#o.runTimeoutMs);
      slot.job = { req, resolve, reject, watchdog };
      // Only a worker with a run keeps the process alive: an idle pool never holds up a CLI command's exit.
      slot.worker.ref();
      slot.worker.postMessage(req);
    });
  }

  /** The run on `slot` overran: fail it now, put a fresh worker in its place, retire the old one after its run. */
  #abandon(slot: Slot): void {
    const job = slot.job;
    if (!job || this.#closed) return;
    const message = `a run of ${job.req.texts.length} texts took over ${this.#o.runTimeoutMs} ms and was abandoned`;
    slot.job = undefined;
    job.reject(new EncodeError(`encoder worker ${slot.index}: ${message}; the worker is replaced`, 'internal'));
    this.#retiring.add(slot.worker);
    slot.worker.removeAllListeners('exit');
    slot.worker.removeAllListeners('message');
    const old = slot.worker;
    old.on('message', () => { void stopWorker(old); });
    old.on('exit', () => this.#retiring.delete(old));
    this.#o.onWorkerExit?.({ worker: slot.index, reason: 'overrun', message });
    const at = this.#slots.indexOf(slot);
    if (at >= 0) this.#slots[at] = this.#spawn(slot.index);
  }

  #spawn(index: number): Slot {
    const init: WorkerInit = {
      folder: this.#o.folder, onnxPath: this.#o.onnxPath, threads: this.#o.threads,
      ...(this.#digest ? { files: this.#files, fingerprint: this.#fingerprint } : {}),
      ...(this.#o.crashDrillText ? { crashDrillText: this.#o.crashDrillText } : {}),
    };
    // execArgv: [] — the worker registers its own TypeScript loader (entry.mjs) and needs none of the parent's flags.
    const worker = new Worker(ENTRY, {
      workerData: init, execArgv: [], name: `embedsync-encoder-${index}`,
      resourceLimits: { stackSizeMb: 64, maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    let settle!: { resolve: () => void; reject: (err: Error) => void };
    const ready = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
    ready.catch(() => undefined);
    const slot: Slot = { index, worker, ready, isReady: false, job: undefined, closing: false };
    worker.on('message', (m: WorkerMessage) => {
      switch (m.type) {
        case 'ready':
          this.#promptTokens ??= m.promptTokens;
          slot.isReady = true;
          idle(worker);
          settle.resolve();
          this.#wakeFree();
          return;
        case 'fatal':
          slot.closing = true;
          settle.reject(m.stage === 'tokenizer' ? new TokenizerLoadError(m.message) : new Error(m.message));
          // Without a single worker able to load the model, no run can ever start: fail them all clearly.
          if (!this.#closed && !this.#slots.some((x) => x !== slot && x.isReady)) this.#broken = m.message;
          void stopWorker(worker);
          this.#wakeFree();
          return;
        case 'done':
        case 'failed': {
          const job = slot.job;
          if (!job || job.req.id !== m.id) return;
          clearTimeout(job.watchdog);
          slot.job = undefined;
          idle(worker);
          if (m.type === 'done') job.resolve(m);
          else job.reject(new EncodeError(m.message, m.reason, m.index));
          this.#wakeFree();
          return;
        }
      }
    });
    worker.on('error', (err) => {
      // An uncaught error inside the worker: it exits next; 'exit' does the bookkeeping.
      slot.lastError = err.message;
    });
    worker.on('exit', (code) => this.#exited(slot, code));
    return slot;
  }

  #exited(slot: Slot, code: number): void {
    const job = slot.job;
    slot.job = undefined;
    slot.isReady = false;
    const closing = slot.closing || this.#closed;
    const why = `it exited (code ${code}${slot.lastError ? `: ${slot.lastError}` : ''})`;
    if (job) {
      clearTimeout(job.watchdog);
      // Closing is not the run's fault: 'unavailable' gives its rows back untouched.
      job.reject(closing
        ? new EncodeError('the encoder was closed during this run', 'unavailable')
        : new EncodeError(`encoder worker ${slot.index} failed during this run: ${why}; the worker is replaced`, 'internal'));
    }
    if (closing) {
      this.#wakeFree();
      return;
    }
    this.#o.onWorkerExit?.({ worker: slot.index, reason: 'crashed', message: why });
    const at = this.#slots.indexOf(slot);
    if (at >= 0) this.#slots[at] = this.#spawn(slot.index);
    this.#wakeFree();
  }

  #wakeFree(): void {
    const waiters = this.#freeWaiters;
    this.#freeWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Makes worker `index` fail with an uncaught error at its next chance (between two model calls of a run, or at
   * once when idle): the path a worker dying of a bug takes. For tests and operators' drills.
   */
  crash(index: number): void {
    this.#slots.find((s) => s.index === index)?.worker.postMessage({ type: 'crash' });
  }

  /** Stops every worker once the runs in flight have returned (each is bounded by the run size). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeFree();
    await this.#o.scheduler.idle();
    await Promise.all([...this.#slots.map((s) => s.worker), ...this.#retiring].map(stopWorker));
  }
}

/** Workers asked to stop: they keep the process alive until they are gone. */
const stopping = new WeakSet<Worker>();

/** A worker with nothing to do does not keep the process alive (unless it is on its way out). */
function idle(worker: Worker): void {
  if (!stopping.has(worker)) worker.unref();
}

/** Asks a worker to release its session and end its thread once it is idle; resolves when it has. */
async function stopWorker(worker: Worker): Promise<void> {
  if (worker.threadId === -1) return; // already gone
  stopping.add(worker);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.ref();
  worker.postMessage({ type: 'stop' } satisfies StopRequest);
  await exited;
}
