// DDL on a table that readers are using. ALTER TABLE needs an ACCESS EXCLUSIVE lock, and while it waits for
// one every later reader queues behind it, so a plain ALTER behind one slow query stalls all of search.
// Here each attempt waits at most lockTimeoutMs for its locks (lock_timeout), then gives up, rolls back and
// retries after a growing, jittered pause: readers are never held up for longer than one attempt's wait.
import type pg from 'pg';

export interface ShortLockOptions {
  /** Longest a reader may queue behind this transaction. */
  readonly lockTimeoutMs?: number;
  readonly maxAttempts?: number;
  readonly signal?: AbortSignal;
  readonly onRetry?: (attempt: number, err: Error) => void;
}

const LOCK_NOT_AVAILABLE = '55P03';

export async function withShortLocks<T>(client: pg.Client | pg.PoolClient, fn: () => Promise<T>, o: ShortLockOptions = {}): Promise<T> {
  const timeout = Math.max(1, Math.round(o.lockTimeoutMs ?? 100));
  const max = o.maxAttempts ?? 200;
  for (let attempt = 1; ; attempt++) {
    o.signal?.throwIfAborted();
    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL lock_timeout = '${timeout}ms'`);
      const out = await fn();
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE || attempt >= max) throw err;
      o.onRetry?.(attempt, err as Error);
      const pause = Math.min(2000, 20 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
