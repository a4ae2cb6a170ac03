// When to retry a remote request and how long to wait: 408/425/429/5xx and connection errors are worth
// another try; Retry-After is honoured as the remote's own word; otherwise capped exponential backoff with
// jitter, so many daemons hitting one recovering server do not retry in lockstep.
import { backoff } from '../../lib/backoff.ts';

export interface RetryPolicy {
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * A Retry-After longer than this ends the retries and the breaker stays open that long instead: the rows go
   * back to the queue rather than sit in a claimed batch whose lease may run out meanwhile.
   */
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 2000,
  maxRetryAfterMs: 10_000,
};

/** About a minute of patience at start-up (a remote started alongside may still be loading its model). */
export const STARTUP_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 30,
  baseDelayMs: 250,
  maxDelayMs: 2000,
  maxRetryAfterMs: 10_000,
};

/** Statuses that say "not now" rather than "not this request". */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or
 * unreadable. `now` is injectable for the date form.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, now = Date.now()): number | undefined {
  const raw = typeof value === 'string' || value === undefined ? value : value[0];
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  const s = raw.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Delay before attempt `attempt + 1` (attempt counts from 0). With a Retry-After the wait is at least that
 * long, plus up to 10% jitter; without, "equal jitter": half the capped exponential step fixed, half random.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, retryAfterMs: number | undefined, random = Math.random): number {
  if (retryAfterMs !== undefined) return Math.ceil(retryAfterMs * (1 + 0.1 * random()));
  return Math.round(backoff({ baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, jitter: 'half' }).delayMs(attempt, random));
}
