// Messages between the encoder's main-thread pool and its worker threads. Everything here is structured-clone
// data; vectors travel as one transferred ArrayBuffer per run, so they cross threads without a copy.
import type { ModelFolder } from '../model-folder.ts';
import type { EncodeFailureReason, Role, TruncationSide } from '../types.ts';

export interface WorkerInit {
  /** The folder's settings and tokenizer, read once on the main thread. */
  readonly folder: ModelFolder;
  readonly onnxPath: string;
  readonly threads: number;
  /** The files as the first worker loaded them (onnx-session.ts filesFingerprint): a later worker refuses others. */
  readonly files?: readonly string[];
  readonly fingerprint?: string;
  /** Crash drills: a text containing this ends the whole process here, mid-run (EMBEDSYNC_CRASH_DRILL_TEXT). */
  readonly crashDrillText?: string;
}

export interface RunRequest {
  readonly id: number;
  readonly texts: readonly string[];
  readonly prompt: string;
  /** First token that counts in mean/max/lasttoken pooling (prompt tokens left out). */
  readonly poolStart: number;
  /** Padded-token cap of one model call inside this run (memory bound). */
  readonly maxBatchTokens: number;
  readonly truncate: TruncationSide;
}

/** Makes the worker fail with an uncaught error at its next chance (crash drills; see WorkerPool.crash). */
export interface CrashRequest {
  readonly type: 'crash';
}

/** Releases the session and ends the worker's thread (the pool sends it only to an idle worker). */
export interface StopRequest {
  readonly type: 'stop';
}

export interface RunDone {
  readonly type: 'done';
  readonly id: number;
  /** texts.length × dims float32, row after row, L2-normalized. */
  readonly vectors: ArrayBuffer;
  readonly dims: number;
  /** Real tokens fed (after truncation) and padded positions computed. */
  readonly tokens: number;
  readonly paddedTokens: number;
  /** UTF-8 bytes of the texts (the run sizer learns tokens per byte). */
  readonly bytes: number;
  readonly truncated: number;
  /** Tokenizing + model + pooling time inside the worker. */
  readonly seconds: number;
}

export interface RunFailed {
  readonly type: 'failed';
  readonly id: number;
  readonly message: string;
  readonly reason: EncodeFailureReason;
  readonly index?: number;
}

export interface WorkerReady {
  readonly type: 'ready';
  /** Tokens of each role's prompt, counted by the worker's tokenizer (the main thread holds none). */
  readonly promptTokens: Readonly<Record<Role, number>>;
}

export interface WorkerFatal {
  readonly type: 'fatal';
  readonly message: string;
  /** What could not be loaded: the tokenizer (tokenizer.json) or the model. */
  readonly stage: 'tokenizer' | 'model';
}

export type WorkerMessage = RunDone | RunFailed | WorkerReady | WorkerFatal;
