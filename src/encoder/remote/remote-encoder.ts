// The Encoder every remote backend shares: prompts (when the daemon applies them), splitting into requests
// that fit the remote's limits, EMBEDDING_CONCURRENCY requests in flight, retries with backoff honouring
// Retry-After, the circuit breaker, per-input isolation when the remote refuses a request, and checks on
// every answer (count, dimension, unit length). A backend only says how to phrase a request and read
// the answer (Dialect).
import { setTimeout } from 'node:timers/promises';
import {
  EncodeError, type BackendAvailability, type EncodeOptions, type EncodePriority, type EncodeResult, type Encoder, type ModelInfo,
  type Role,
} from '../types.ts';
import { planChunks, jsonBytes, type ChunkLimits } from './chunking.ts';
import { isolateFailures } from '../../lib/isolate-failures.ts';
import { BreakerOpenError, CircuitBreaker } from './circuit-breaker.ts';
import { ConnectionError, type HttpClient } from './http-client.ts';
import { isRetryableStatus, parseRetryAfter, retryDelayMs, type RetryPolicy } from './retry-policy.ts';
import { Semaphore } from './semaphore.ts';
import { decodeVector, ensureUnit, VectorFormatError } from './vectors.ts';

export type ParsedAnswer =
  | { readonly ok: true; readonly vectors: readonly unknown[]; readonly tokens: number }
  /** The remote answered but refused the input at `index` (relative to the request). */
  | { readonly ok: false; readonly index: number; readonly message: string };

export interface Dialect {
  request(texts: readonly string[], role: Role): { readonly path: string; readonly body: unknown };
  /** Reads a 2xx answer for `count` inputs; throws RemoteChangedError when the remote is not what it was. */
  parse(body: unknown, count: number): ParsedAnswer;
}

/** The remote now serves something else (another model, another dimension): not the rows' fault. */
export class RemoteChangedError extends Error {
  override name = 'RemoteChangedError';
}

export interface RemoteLimits extends ChunkLimits {
  /** Longest text the remote accepts (characters); longer ones are cut, like the tokenizer would cut them. */
  readonly maxTextChars?: number | undefined;
}

export interface RemoteEncoderOptions {
  readonly client: HttpClient;
  readonly dialect: Dialect;
  readonly limits: RemoteLimits;
  readonly concurrency: number;
  /** Prompts prepended by the daemon; undefined when the remote applies them itself. */
  readonly daemonPrompts: Readonly<Record<Role, string>> | undefined;
  readonly retry: RetryPolicy;
  readonly breaker: CircuitBreaker;
  /** Everything but what the start-up probe learns. */
  readonly info: Omit<ModelInfo, 'dimensions' | 'loadTimeSeconds'>;
  readonly startedAt: number;
}

interface Rejected {
  readonly rejected: true;
  readonly status: number;
  readonly message: string;
}

/** The remote refused a request as a whole (a 4xx about the input, no index): one input in it is at fault. */
class Refused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

interface Encoded {
  readonly vectors: Float32Array[];
  readonly tokens: number;
}

export class RemoteEncoder implements Encoder {
  info!: ModelInfo;
  readonly availability: BackendAvailability;
  /** How many vectors arrived without unit length and were normalized here. */
  normalizedCount = 0;
  private readonly slots: Semaphore;
  private closed = false;
  private expectedDimensions: number | undefined;
  /** No request before this time (ms since epoch): the remote's last Retry-After. */
  private notBefore = 0;

  constructor(private readonly o: RemoteEncoderOptions) {
    this.slots = new Semaphore(o.concurrency);
    const breaker = o.breaker;
    this.availability = { get open() { return breaker.open; }, retryInMs: () => breaker.retryInMs() };
  }

  /** Highest number of requests seen in flight at once. */
  get peakInFlight(): number {
    return this.slots.peak;
  }

  /**
   * Sends one probe encode: learns the dimension and proves the remote works before anything relies on it.
   * While the remote is unavailable the probe is repeated (after the breaker's pause) up to `patience`.
   */
  async start(patience: RetryPolicy, signal?: AbortSignal): Promise<this> {
    let probe: EncodeResult;
    const giveUpAt = Date.now() + patience.maxAttempts * patience.maxDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        probe = await this.encode(['embedsync start-up probe'], 'document', signal ? { signal } : {});
        break;
      } catch (err) {
        if (!(err instanceof EncodeError) || err.reason !== 'unavailable' || Date.now() >= giveUpAt || signal?.aborted) throw err;
        await sleep(Math.max(this.o.breaker.retryInMs(), retryDelayMs(patience, attempt - 1, undefined)), signal);
      }
    }
    const dimensions = probe.vectors[0]!.length;
    this.expectedDimensions = dimensions;
    this.info = { ...this.o.info, dimensions, loadTimeSeconds: (performance.now() - this.o.startedAt) / 1000 };
    return this;
  }

  async encode(texts: readonly string[], role: Role, options: EncodeOptions = {}): Promise<EncodeResult> {
    if (this.closed) throw new EncodeError('encoder is closed', 'unavailable');
    const prompt = this.o.daemonPrompts?.[role] ?? '';
    const max = this.o.limits.maxTextChars;
    let truncated = 0;
    const sent = texts.map((text, i) => {
      if (typeof text !== 'string') throw new EncodeError(`input ${i} is not a string`, 'input', i);
      let s = prompt + text;
      if (max !== undefined && s.length > max) {
        s = cut(s, max);
        truncated += 1;
      }
      return s;
    });
    if (sent.length === 0) return { vectors: [], tokens: 0, truncated: 0 };
    const chunks = planChunks(sent.map(jsonBytes), this.o.limits, this.o.concurrency);
    const parts = await settleAll(chunks.map(([from, to]) =>
      this.encodeRange(sent, from, to, role, options.signal, options.priority ?? 'bulk')));
    const vectors: Float32Array[] = [];
    let tokens = 0;
    for (const p of parts) {
      vectors.push(...p.vectors);
      tokens += p.tokens;
    }
    return { vectors, tokens, truncated };
  }

  /**
   * Inputs [from, to) in one request; when the remote refuses it, halves (both halves at once) until the
   * refused input stands alone and fails the whole call with its index.
   */
  private encodeRange(texts: readonly string[], from: number, to: number, role: Role, signal: AbortSignal | undefined,
    priority: EncodePriority): Promise<Encoded> {
    return isolateFailures(texts.slice(from, to), {
      attempt: (piece, at) => this.encodePiece(piece, from + at, role, signal, priority),
      isolates: (err) => err instanceof Refused,
      failed: (_, err, at) => {
        const { status, message } = err as Refused;
        throw new EncodeError(`the remote refused input ${from + at} (HTTP ${status}): ${message}`, 'input', from + at);
      },
      join: (parts) => ({ vectors: parts.flatMap((p) => p.vectors), tokens: parts.reduce((sum, p) => sum + p.tokens, 0) }),
      each: (halves) => settleAll(halves.map((half) => half())),
    });
  }

  /** One request for `texts`, the inputs from `from` on; a refusal of the whole request throws Refused. */
  private async encodePiece(texts: readonly string[], from: number, role: Role, signal: AbortSignal | undefined,
    priority: EncodePriority): Promise<Encoded> {
    const answer = await this.call(texts, role, signal, priority);
    if ('rejected' in answer) throw new Refused(answer.status, answer.message);
    if (!answer.ok) {
      throw new EncodeError(`the remote refused input ${from + answer.index}: ${answer.message}`, 'input', from + answer.index);
    }
    if (answer.vectors.length !== texts.length) {
      throw this.changed(`the remote answered ${answer.vectors.length} embeddings for ${texts.length} inputs`);
    }
    const vectors = answer.vectors.map((raw, i) => {
      let v: Float32Array;
      try {
        v = decodeVector(raw, `embedding ${from + i}`);
      } catch (err) {
        throw this.changed((err as Error).message);
      }
      const expected = this.expectedDimensions ?? this.info?.dimensions;
      if (expected !== undefined && v.length !== expected) {
        throw this.changed(`the remote returned a ${v.length}-dimension vector; this daemon started with ${expected} dimensions ` +
          '(the remote model changed: restart the daemon and run `embedsync migrate` for the new model)');
      }
      try {
        const u = ensureUnit(v);
        if (u.normalized) this.normalizedCount += 1;
        return u.vector;
      } catch (err) {
        throw new EncodeError(`input ${from + i}: ${(err as Error).message}`, 'input', from + i);
      }
    });
    if (this.expectedDimensions === undefined && vectors.length > 0) {
      if (vectors.some((v) => v.length !== vectors[0]!.length)) throw this.changed('the remote returned vectors of different dimensions');
    }
    return { vectors, tokens: answer.tokens };
  }

  /** One request with retries; trips the breaker when the remote stays unreachable or overloaded. */
  private async call(texts: readonly string[], role: Role, signal: AbortSignal | undefined,
    priority: EncodePriority = 'bulk'): Promise<ParsedAnswer | Rejected> {
    const { client, dialect, retry, breaker } = this.o;
    const { path, body } = dialect.request(texts, role);
    try {
      await breaker.permit();
    } catch (err) {
      if (err instanceof BreakerOpenError) throw new EncodeError(err.message, 'unavailable', undefined, { cause: err });
      throw err;
    }
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) {
        breaker.release();
        throw new EncodeError('encoding aborted', 'timeout', undefined, { cause: signal.reason });
      }
      let problem: string;
      let retryAfterMs: number | undefined;
      try {
        const answer = await this.slots.run(async () => {
          await this.untilRemoteReady(signal);
          const a = await client.send('POST', path, body, signal);
          // The remote's Retry-After holds back every request to it, not just this one's retry: set before
          // the slot passes on, so no waiting request slips through.
          const after = isRetryableStatus(a.status) ? parseRetryAfter(a.headers['retry-after']) : undefined;
          if (after !== undefined && after <= retry.maxRetryAfterMs) {
            this.notBefore = Math.max(this.notBefore, Date.now() + retryDelayMs(retry, attempt, after));
          }
          return a;
        }, priority);
        if (answer.status >= 200 && answer.status < 300) {
          let parsed: ParsedAnswer;
          try {
            parsed = dialect.parse(answer.body, texts.length);
          } catch (err) {
            const message = err instanceof RemoteChangedError || err instanceof VectorFormatError ? err.message
              : `unreadable answer: ${(err as Error).message}`;
            breaker.failure(message);
            throw new EncodeError(`remote encoder at ${client.origin}: ${message}`, 'unavailable', undefined, { cause: err });
          }
          breaker.success();
          return parsed;
        }
        const message = errorMessage(answer.body);
        if (!isRetryableStatus(answer.status)) {
          if (answer.status === 401 || answer.status === 403 || answer.status === 404 || answer.status === 405) {
            // Wrong key or endpoint: nothing the rows did; they wait, queued, until the setting is fixed.
            breaker.failure(`HTTP ${answer.status}`);
            throw new EncodeError(`remote encoder at ${client.origin} answered HTTP ${answer.status}: ${message} ` +
              '(check EMBEDDING_ENDPOINT and EMBEDDING_API_KEY)', 'unavailable');
          }
          breaker.success();
          return { rejected: true, status: answer.status, message };
        }
        problem = `HTTP ${answer.status}${message ? `: ${message}` : ''}`;
        retryAfterMs = parseRetryAfter(answer.headers['retry-after']);
      } catch (err) {
        if (err instanceof EncodeError) throw err;
        if (signal?.aborted) {
          breaker.release();
          throw new EncodeError('encoding aborted', 'timeout', undefined, { cause: signal.reason });
        }
        if (!(err instanceof ConnectionError)) {
          breaker.release();
          throw new EncodeError(`remote encoder at ${client.origin}: ${(err as Error).message}`, 'internal', undefined, { cause: err });
        }
        problem = err.message;
      }
      const tooLong = retryAfterMs !== undefined && retryAfterMs > retry.maxRetryAfterMs;
      if (attempt + 1 >= retry.maxAttempts || tooLong) {
        breaker.failure(problem, retryAfterMs);
        throw new EncodeError(`remote encoder at ${client.origin} unavailable after ${attempt + 1} attempt${attempt ? 's' : ''}: ` +
          `${problem}`, 'unavailable');
      }
      // With a Retry-After, untilRemoteReady() does the waiting.
      if (retryAfterMs === undefined) await sleep(retryDelayMs(retry, attempt, undefined), signal);
    }
  }

  /** Waits out a Retry-After the remote gave (to any request). */
  private async untilRemoteReady(signal: AbortSignal | undefined): Promise<void> {
    for (let wait = this.notBefore - Date.now(); wait > 0 && !signal?.aborted; wait = this.notBefore - Date.now()) {
      await sleep(wait, signal);
    }
  }

  private changed(message: string): EncodeError {
    this.o.breaker.failure(message);
    return new EncodeError(`remote encoder at ${this.o.client.origin}: ${message}`, 'unavailable');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.o.client.close();
  }
}

/** Waits for every promise; then throws the error that matters most: unavailable/timeout before input (lowest index). */
async function settleAll<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (errors.length === 0) return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  const rank = (e: unknown) => (e instanceof EncodeError ? ({ unavailable: 0, timeout: 1, internal: 2, input: 3 } as const)[e.reason] : 2);
  errors.sort((a, b) => rank(a) - rank(b) || ((a as EncodeError).index ?? 0) - ((b as EncodeError).index ?? 0));
  throw errors[0];
}

/** The error text of a native ({detail}), OpenAI ({error:{message}}) or TEI ({error}) error body. */
export function errorMessage(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 500);
  const b = body as { detail?: unknown; error?: unknown; message?: unknown } | null;
  const e = b?.error as { message?: unknown } | string | undefined;
  const text = typeof b?.detail === 'string' ? b.detail
    : typeof e === 'string' ? e
    : typeof e?.message === 'string' ? e.message
    : typeof b?.message === 'string' ? b.message
    : JSON.stringify(body);
  return String(text).slice(0, 500);
}

/** First `max` UTF-16 units, not splitting a surrogate pair. */
function cut(s: string, max: number): string {
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/** Resolves after `ms`, or at once when `signal` aborts: the callers look at the signal themselves. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return setTimeout(ms, undefined, { signal }).catch(() => undefined);
}
