// DDL on a table that readers are using. ALTER TABLE needs an ACCESS EXCLUSIVE lock, and while it waits for
// one every later reader queues behind it, so a plain ALTER behind one slow query stalls all of search.
// Here each attempt waits at most lockTimeoutMs for its locks (lock_timeout), then gives up, rolls back and
// retries after a growing, jittered pause: readers are never held up for longer than one attempt's wait.
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { backoff } from '../lib/backoff.ts';
import { sqlState } from './pg-errors.ts';
import { loadSql } from './sql-template.ts';

export interface ShortLockOptions {
  /** Longest a reader may queue behind this transaction. */
  readonly lockTimeoutMs?: number;
  readonly maxAttempts?: number;
  readonly signal?: AbortSignal;
  readonly onRetry?: (attempt: number, err: Error) => void;
}

const LOCK_NOT_AVAILABLE = '55P03';
// 40 ms doubling to 2 s, each between half and one and a half times that.
const RETRY = backoff({ baseMs: 40, maxMs: 2000, maxExponent: 6, jitter: 'spread' });

export async function withShortLocks<T>(client: pg.Client | pg.PoolClient, fn: () => Promise<T>, o: ShortLockOptions = {}): Promise<T> {
  const timeout = Math.max(1, Math.round(o.lockTimeoutMs ?? 100));
  const max = o.maxAttempts ?? 200;
  for (let attempt = 1; ; attempt++) {
    o.signal?.throwIfAborted();
    await client.query('BEGIN');
    try {
      await client.query(loadSql('lock-timeout-local'), [`${timeout}ms`]);
      const out = await fn();
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (sqlState(err) !== LOCK_NOT_AVAILABLE || attempt >= max) throw err;
      o.onRetry?.(attempt, err as Error);
      // An abort ends the pause; the check at the top of the loop then throws its reason.
      await sleep(RETRY.delayMs(attempt - 1), undefined, { signal: o.signal }).catch(() => undefined);
    }
  }
}
