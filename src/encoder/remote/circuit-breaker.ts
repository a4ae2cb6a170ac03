// A circuit breaker for one remote: after `failureThreshold` requests in a row failed for the remote's
// sake (down, overloaded past every retry), it opens and every request fails at once without touching the
// network; after a cool-down (doubling per trip, capped, or the remote's Retry-After) one probe request
// goes through (half-open) while the others wait for its outcome. The sync worker reads `open` to stop
// claiming rows it could not encode anyway.
import { backoff, type Backoff } from '../../lib/backoff.ts';

export interface BreakerOptions {
  readonly failureThreshold: number;
  readonly baseOpenMs: number;
  readonly maxOpenMs: number;
  readonly now?: () => number;
  /** Told when the breaker trips (with the pause and the reason) and when the remote answers again. */
  readonly onChange?: (change: { readonly open: boolean; readonly openMs?: number; readonly reason?: string }) => void;
}

export const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 1, baseOpenMs: 1000, maxOpenMs: 15_000 };

export type BreakerState = 'closed' | 'open' | 'half-open';

export class BreakerOpenError extends Error {
  override name = 'BreakerOpenError';
  constructor(readonly retryInMs: number, readonly lastFailure: string | undefined) {
    super(`remote encoder unavailable (circuit open for another ${Math.ceil(retryInMs / 100) / 10} s` +
      `${lastFailure ? `; last failure: ${lastFailure}` : ''})`);
  }
}

export class CircuitBreaker {
  private failures = 0;
  private trips = 0;
  private openUntil = 0;
  private probe: { done: Promise<void>; settle: () => void } | undefined;
  private lastFailure: string | undefined;
  private readonly now: () => number;
  private readonly coolDown: Backoff;

  constructor(private readonly o: BreakerOptions = DEFAULT_BREAKER) {
    this.now = o.now ?? Date.now;
    this.coolDown = backoff({ baseMs: o.baseOpenMs, maxMs: o.maxOpenMs, maxExponent: 20 });
  }

  get state(): BreakerState {
    if (this.openUntil === 0) return 'closed';
    return this.now() < this.openUntil ? 'open' : 'half-open';
  }

  /** True while requests would be refused without trying (the cool-down has not run out). */
  get open(): boolean {
    return this.state === 'open';
  }

  /** Milliseconds until a probe may go through; 0 when closed or half-open. */
  retryInMs(): number {
    return Math.max(0, this.openUntil - this.now());
  }

  /**
   * Resolves when a request may be sent; rejects with BreakerOpenError when it may not. In half-open the
   * first caller becomes the probe; later callers wait for its success() / failure() and ask again.
   */
  async permit(): Promise<void> {
    for (;;) {
      const state = this.state;
      if (state === 'closed') return;
      if (state === 'open') throw new BreakerOpenError(this.retryInMs(), this.lastFailure);
      if (!this.probe) {
        let settle!: () => void;
        const done = new Promise<void>((resolve) => { settle = resolve; });
        this.probe = { done, settle };
        return;
      }
      await this.probe.done;
    }
  }

  /** The remote answered (even a 4xx about the input: it is up). */
  success(): void {
    if (this.openUntil !== 0) this.o.onChange?.({ open: false });
    this.failures = 0;
    this.trips = 0;
    this.openUntil = 0;
    this.lastFailure = undefined;
    this.settleProbe();
  }

  /** A request failed for the remote's sake; `minOpenMs` is its Retry-After, if any. */
  failure(reason: string, minOpenMs = 0): void {
    this.lastFailure = reason;
    if (this.state === 'open') {
      // Requests that were already under way when it tripped: one outage is one trip.
      this.openUntil = Math.max(this.openUntil, this.now() + minOpenMs);
      return;
    }
    this.failures += 1;
    if (this.state === 'half-open' || this.failures >= this.o.failureThreshold) {
      const coolDown = this.coolDown.delayMs(this.trips);
      this.trips += 1;
      const openMs = Math.max(coolDown, minOpenMs);
      this.openUntil = this.now() + openMs;
      this.failures = 0;
      this.o.onChange?.({ open: true, openMs, reason });
    }
    this.settleProbe();
  }

  /** A request ended without telling anything about the remote (aborted): let another caller probe. */
  release(): void {
    this.settleProbe();
  }

  private settleProbe(): void {
    const p = this.probe;
    this.probe = undefined;
    p?.settle();
  }
}
