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

export interface Encoder {
  readonly info: ModelInfo;
  encode(texts: readonly string[], role: Role, options?: EncodeOptions): Promise<EncodeResult>;
  close(): Promise<void>;
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
