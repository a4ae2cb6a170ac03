// The one session advisory lock every `embedsync migrate` of a database takes, so concurrent runs serialize
// and the second finds nothing left to do.
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { loadSql } from './sql-template.ts';

/** Arbitrary but fixed: every embedsync migrate of a database contends for this one lock. */
export const MIGRATE_LOCK_KEY = 7_310_462_118_054_551n;

/**
 * Takes the migrate lock by polling rather than waiting inside one statement: a migrate that waits in
 * pg_advisory_lock holds a transaction open the whole time, and the holder's CREATE INDEX CONCURRENTLY
 * waits for every such transaction to end — a deadlock between two `migrate` runs started together.
 */
export async function takeMigrateLock(client: pg.Client | pg.PoolClient): Promise<void> {
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>(loadSql('migrate-lock-try'), [MIGRATE_LOCK_KEY.toString()]);
    if (rows[0]!.ok) return;
    await sleep(100);
  }
}

/** Never throws: it runs in finally blocks, where the connection may already be broken. */
export async function releaseMigrateLock(client: pg.Client | pg.PoolClient): Promise<void> {
  await client.query(loadSql('migrate-unlock'), [MIGRATE_LOCK_KEY.toString()]).catch(() => undefined);
}
