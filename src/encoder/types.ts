// The contract every encoder backend (local ONNX, remote embedsync/TEI/OpenAI) fulfils.
// The sync worker, the HTTP API and migrate see only this.
import type { Backend } from '../config/index.ts';

export const ROLES = ['query', 'document'] as const;
export type Role = (typeof ROLES)[number];

/** Who asks for vectors: the sync worker (and other background work) or the HTTP API; they share the encoder. */
export const ENCODE_SOURCES = ['sync', 'http'] as const;
export type EncodeSource = (typeof ENCODE_SOURCES)[number];

/**
 * How urgent a call is, most urgent first: a search query someone waits for, then live sync rows (ordinary
 * application writes), then bulk work (the backlog, large HTTP batches). Urgent runs start before bulk runs of
 * either source; bulk runs share the encoder by EMBEDSYNC_SYNC_SHARE (run-scheduler.ts).
 */
export const ENCODE_PRIORITIES = ['query', 'live', 'bulk'] as const;
export type EncodePriority = (typeof ENCODE_PRIORITIES)[number];

export const POOLING_MODES = ['cls', 'mean', 'max', 'lasttoken'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

export interface ModelInfo {
  /** Hub id or folder the model came from. */
  readonly name: string;
  readonly backend: Backend;
  /** Read from the model (or learned from the remote), never configured. */
  readonly dimensions: number;
  readonly pooling: PoolingMode;
  /** Text prepended per role before tokenizing ('' when the model has none). */
  readonly prompts: Readonly<Record<Role, string>>;
  readonly normalize: boolean;
  readonly maxTokens: number;
  /** 16 hex chars identifying weights + tokenizer + pooling/prompt/normalize settings. */
  readonly checksum: string;
  /** embedsync's package version. */
  readonly version: string;
  /** The weights file actually loaded (e.g. onnx/model_quantized.onnx), or the remote endpoint. */
  readonly file: string;
  readonly loadTimeSeconds: number;
}

export interface EncodeResult {
  /** One L2-normalized vector per input, in input order. */
  readonly vectors: readonly Float32Array[];
  /** Tokens fed to the model (after truncation), for embedsync_tokens_total. */
  readonly tokens: number;
  /** How many inputs were cut to maxTokens. */
  readonly truncated: number;
}

/** Which end of an over-long input is cut (TEI's truncation_direction); the prompt is always kept. */
export const TRUNCATION_SIDES = ['right', 'left'] as const;
export type TruncationSide = (typeof TRUNCATION_SIDES)[number];

export interface EncodeOptions {
  readonly signal?: AbortSignal;
  /** Local backend: which end of an over-long text is cut (default right). Remote backends cut at the right. */
  readonly truncate?: TruncationSide;
  /** Whose share of the encoder's time this call uses (default 'sync'); see run-scheduler.ts. */
  readonly source?: EncodeSource;
  /** Default 'bulk'. */
  readonly priority?: EncodePriority;
}

/** The local backend's measured speed and run size, which sync claims are sized from (src/sync/claim-sizer.ts). */
export interface Pace {
  /** Padded tokens per second of one worker, moving average. */
  readonly tokensPerSecond: number;
  /** Target duration of one run. */
  readonly runSeconds: number;
  /** Runs that go at once (one per worker). */
  readonly parallelRuns: number;
}

/** A remote backend's circuit breaker, which the sync worker consults so it leaves rows queued while the remote is down. */
export interface BackendAvailability {
  /** True while the circuit breaker refuses requests. */
  readonly open: boolean;
  /** Milliseconds until the breaker lets a probe through (0 when closed). */
  retryInMs(): number;
}

/** The local backend's share of its workers between the sync worker and the HTTP API (run-scheduler.ts). */
export interface EncoderScheduler {
  /** Runs at once (one per worker). */
  readonly capacity: number;
  /** The sync worker's share of the encoder's time while the HTTP API also wants it (EMBEDSYNC_SYNC_SHARE). */
  syncShare: number;
  /** A batch in hand between its runs: keeps the encoder free for `source` while it is behind on its share; returns the let-go. */
  hold(source: EncodeSource): () => void;
  /** Told the time each run waited for a worker; returns the unsubscribe. */
  onWait(listener: (priority: EncodePriority, seconds: number) => void): () => void;
  /** Told the encoder time each source used; returns the unsubscribe. */
  onCharge(listener: (source: EncodeSource, seconds: number) => void): () => void;
}

/**
 * What every backend does (info, encode, close), and what some can do besides: the optional members. The local
 * backend has a pace and a scheduler, a remote backend its availability. A wrapper (a test's counting encoder)
 * forwards them as getters, `get pace() { return inner.pace; }`: the pace changes as the encoder measures.
 */
export interface Encoder {
  readonly info: ModelInfo;
  encode(texts: readonly string[], role: Role, options?: EncodeOptions): Promise<EncodeResult>;
  close(): Promise<void>;
  /** Local backend: the measured pace, read anew for every sync claim. */
  readonly pace?: Pace | undefined;
  /** Local backend: who gets a worker next, the sync worker or the HTTP API. */
  readonly scheduler?: EncoderScheduler | undefined;
  /** Remote backends: whether the remote answers (circuit breaker). */
  readonly availability?: BackendAvailability | undefined;
  /** Local backend: what of its model folder a chunked table's chunker needs (model-folder.ts has the rest). */
  readonly folder?: TokenizerFiles | undefined;
}

/** The model's own tokenizer files, prompts and limit: chunks are counted exactly as the model will read them. */
export interface TokenizerFiles {
  readonly tokenizerJson: Uint8Array;
  readonly tokenizerConfig: Readonly<Record<string, unknown>>;
  readonly prompts: Readonly<Record<Role, string>>;
  readonly maxTokens: number;
}

export const ENCODE_FAILURE_REASONS = ['input', 'timeout', 'unavailable', 'internal'] as const;
export type EncodeFailureReason = (typeof ENCODE_FAILURE_REASONS)[number];

/**
 * reason 'input': this input can never be encoded (retrying is pointless; dead-letter it).
 * reason 'unavailable': the backend is down (keep rows queued; do not count an attempt).
 * index: the offending input when one input is to blame, so callers can isolate it.
 */
export class EncodeError extends Error {
  constructor(
    message: string,
    readonly reason: EncodeFailureReason,
    readonly index?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EncodeError';
  }
}
