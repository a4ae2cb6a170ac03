// What createRemoteEncoder hands every backend's factory. A file of its own so the backends need not import
// index.ts, which loads them.
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { RetryPolicy } from './retry-policy.ts';

/** What every backend's factory shares. */
export interface RemoteCommon {
  readonly retry: RetryPolicy;
  readonly startupRetry: RetryPolicy;
  readonly breaker: () => CircuitBreaker;
  readonly cwd: string;
  readonly signal: AbortSignal | undefined;
  readonly startedAt: number;
  readonly version: string;
}
