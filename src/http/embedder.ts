// The one path every embedding route takes: cache lookup, then the misses (deduplicated) encoded in one encoder
// call per role within the concurrency cap, then the fresh vectors cached. An input the encoder refuses is
// isolated and reported per item; the rest still get their vectors.
import { cacheKey, type EmbeddingCache } from '../cache/index.ts';
import { EncodeError, type EncodePriority, type Encoder, type Role, type TruncationSide } from '../encoder/types.ts';
import type { Metrics } from '../metrics/index.ts';
import { isolateFailures } from '../lib/isolate-failures.ts';
import { withSpan } from '../tracing/index.ts';
import { HttpError } from './errors.ts';
import { EncodeTimeoutError, OverloadedError, type ConcurrencyLimiter } from './limiter.ts';
import type { ModelReadiness } from './model-readiness.ts';

export interface EmbedInput {
  readonly text: string;
  readonly role: Role;
}

export type EmbedOutcome =
  | { readonly ok: true; readonly vector: Float32Array; readonly cached: boolean }
  | { readonly ok: false; readonly error: string };

export interface EmbedResult {
  readonly outcomes: readonly EmbedOutcome[];
  /** Tokens the model read for this request (cache hits cost none). */
  readonly tokens: number;
  readonly encoder: Encoder;
}

export interface EmbedderDeps {
  readonly model: ModelReadiness;
  readonly cache: EmbeddingCache;
  readonly limiter: ConcurrencyLimiter;
  readonly metrics: Metrics;
}

/** Requests with at most this many texts to encode are queries someone waits for: urgent in the encoder. */
export const QUERY_MAX_INPUTS = 4;

interface Miss {
  readonly key: string;
  readonly text: string;
  readonly role: Role;
}

export class Embedder {
  constructor(private readonly deps: EmbedderDeps) {}

  /**
   * `deadline` (performance.now() time): when a request embeds in several calls, the time all of them share.
   * `truncate`: which end of an over-long text is cut (TEI's truncation_direction). `other`: another loaded
   * model than the configured one (the OpenAI route's `model` field, in a process serving several tables).
   */
  async embed(inputs: readonly EmbedInput[], deadline?: number, truncate: TruncationSide = 'right', other?: Encoder): Promise<EmbedResult> {
    const encoder = other ?? this.deps.model.encoder();
    const { checksum, dimensions } = encoder.info;
    const keys = inputs.map((x) => cacheKey(checksum, x.role, x.text, truncate));
    const cached = await this.deps.cache.getMany(keys, dimensions);

    const misses = new Map<string, Miss>();
    inputs.forEach((x, i) => {
      if (cached[i] === undefined && !misses.has(keys[i]!)) misses.set(keys[i]!, { key: keys[i]!, text: x.text, role: x.role });
    });
    let fresh = new Map<string, Float32Array | string>();
    let tokens = 0;
    if (misses.size > 0) {
      ({ fresh, tokens } = await this.#encodeMisses(encoder, [...misses.values()], truncate, deadline));
      await this.deps.cache.setMany([...fresh].filter((e): e is [string, Float32Array] => typeof e[1] !== 'string'));
    }
    const outcomes = inputs.map((_, i): EmbedOutcome => {
      const hit = cached[i];
      if (hit) return { ok: true, vector: hit, cached: true };
      const got = fresh.get(keys[i]!)!;
      return typeof got === 'string' ? { ok: false, error: got } : { ok: true, vector: got, cached: false };
    });
    return { outcomes, tokens, encoder };
  }

  async #encodeMisses(encoder: Encoder, misses: readonly Miss[], truncate: TruncationSide,
    deadline?: number): Promise<{ fresh: Map<string, Float32Array | string>; tokens: number }> {
    const { limiter, metrics } = this.deps;
    const byRole = new Map<Role, Miss[]>();
    for (const m of misses) byRole.set(m.role, [...(byRole.get(m.role) ?? []), m]);
    const fresh = new Map<string, Float32Array | string>();
    let tokens = 0;
    const end = metrics.encodeSeconds.startTimer({ source: 'http' });
    const priority: EncodePriority = misses.length <= QUERY_MAX_INPUTS ? 'query' : 'bulk';
    try {
      await limiter.run(async (signal) => {
        for (const [role, group] of byRole) {
          const r = await withSpan('embedsync.encode', { 'embedsync.texts': group.length, 'embedsync.source': 'http' },
            () => encodeIsolating(encoder, group, role, signal, truncate, priority));
          for (const [key, result] of r.results) fresh.set(key, result);
          tokens += r.tokens;
          metrics.tokensTotal.inc(r.tokens);
          if (r.truncated > 0) metrics.truncatedTotal.inc(r.truncated);
        }
      }, deadline);
    } catch (err) {
      throw this.#httpError(err);
    } finally {
      end();
    }
    const refused = [...fresh.values()].filter((v) => typeof v === 'string').length;
    if (refused > 0) metrics.encodeFailures.inc({ reason: 'input' }, refused);
    return { fresh, tokens };
  }

  #httpError(err: unknown): unknown {
    const { encodeFailures } = this.deps.metrics;
    if (err instanceof OverloadedError) return new HttpError('overloaded', err.message, { 'retry-after': String(err.retryAfterSeconds) });
    if (err instanceof EncodeTimeoutError) {
      encodeFailures.inc({ reason: 'timeout' });
      return new HttpError('timeout', err.message, { 'retry-after': String(err.retryAfterSeconds) });
    }
    if (err instanceof EncodeError) {
      encodeFailures.inc({ reason: err.reason });
      if (err.reason === 'timeout') return new HttpError('timeout', `encoder timed out: ${err.message}`, { 'retry-after': '5' });
      if (err.reason === 'unavailable') return new HttpError('unavailable', `encoder unavailable: ${err.message}`, { 'retry-after': '5' });
    } else {
      encodeFailures.inc({ reason: 'internal' });
    }
    return err; // internal: logged by the error handler, answered as 500 with the request id
  }
}

interface Isolated {
  /** A vector, or the reason this input was refused, by cache key. */
  readonly results: Map<string, Float32Array | string>;
  readonly tokens: number;
  readonly truncated: number;
}

/**
 * Encodes `group` in one call; when the encoder refuses one input (EncodeError reason 'input'), that input is
 * set aside and the rest encoded again. Without an index to blame, the group is halved until the culprit is alone.
 */
function encodeIsolating(encoder: Encoder, group: readonly Miss[], role: Role, signal: AbortSignal, truncate: TruncationSide,
  priority: EncodePriority): Promise<Isolated> {
  return isolateFailures<Miss, Isolated>(group, {
    attempt: async (piece) => {
      const r = await encoder.encode(piece.map((m) => m.text), role, { signal, source: 'http', truncate, priority });
      return { results: new Map(piece.map((m, i) => [m.key, r.vectors[i]!])), tokens: r.tokens, truncated: r.truncated };
    },
    isolates: (err) => err instanceof EncodeError && err.reason === 'input' && !signal.aborted,
    blame: (err) => (err as EncodeError).index,
    failed: (m, err) => ({ results: new Map([[m.key, (err as EncodeError).message]]), tokens: 0, truncated: 0 }),
    join: (parts) => ({
      results: new Map(parts.flatMap((p) => [...p.results])),
      tokens: parts.reduce((sum, p) => sum + p.tokens, 0),
      truncated: parts.reduce((sum, p) => sum + p.truncated, 0),
    }),
  });
}
