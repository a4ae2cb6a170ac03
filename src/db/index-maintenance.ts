// Keeps the vector index in line with the policy while the daemon runs: after each reconciliation sweep,
// one daemon (whichever takes the advisory lock; the others skip) builds the index once the table has
// enough rows to train it and rebuilds it when the row count has drifted past the growth factor. Nothing
// runs while a dimension migration is under way: the migration builds the new column's index itself.
import type pg from 'pg';
import type { SourceConfig } from '../config/index.ts';
import { readModelState } from './state-repository.ts';
import type { SourceSql } from './source-sql.ts';
import { loadSql } from './sql-template.ts';
import { ensureIndex, type EnsureResult, type IndexPolicy } from './vector-index.ts';

/** Arbitrary but fixed: index builds of a database contend for this lock. */
export const INDEX_LOCK_KEY = 7_310_462_118_054_552n;

export function indexPolicyOf(source: SourceConfig): IndexPolicy {
  return {
    kind: source.index, growthFactor: source.indexGrowthFactor, minRows: source.indexMinRows, maintenanceWorkMem: source.indexBuildMemory,
  };
}

/** Builds, rebuilds or drops the index when due; undefined when another process holds the lock or a migration runs. */
export async function maintainIndex(pool: pg.Pool, source: SourceConfig, s: SourceSql,
  signal?: AbortSignal): Promise<EnsureResult | undefined> {
  if (signal?.aborted) return undefined;
  const client = await pool.connect();
  let cancel: (() => void) | undefined;
  // A client that failed goes back destroyed: it may be mid-statement, or still without its timeout reset.
  let broken: Error | undefined;
  try {
    // A build can take minutes: on shutdown it is cancelled (the next run drops the invalid leftover).
    const pid = (await client.query<{ pid: number }>(loadSql('session-pid'))).rows[0]!.pid;
    cancel = () => { pool.query(loadSql('session-cancel'), [pid]).catch(() => undefined); };
    signal?.addEventListener('abort', cancel, { once: true });
    // Only the table's owner may build indexes: a daemon running under least-privilege grants leaves it to
    // `embedsync migrate` / `embedsync index rebuild` run as the owner.
    const { rows: own } = await client.query<{ ok: boolean }>(loadSql('index-build-allowed'), [s.table]);
    if (!own[0]?.ok) return undefined;
    const { rows } = await client.query<{ ok: boolean }>(loadSql('index-lock'), [INDEX_LOCK_KEY.toString()]);
    if (!rows[0]!.ok) return undefined;
    try {
      const state = await readModelState(client, s.sourceKey);
      if (!state || state.migration) return undefined;
      // The pool's statement timeout is for short statements; a build is cancelled only on shutdown.
      await client.query(loadSql('session-statement-timeout-off'));
      try {
        return await ensureIndex(client, s, source.embeddingColumn, indexPolicyOf(source), { dimensions: state.dimensions });
      } finally {
        await client.query(loadSql('session-statement-timeout-reset'));
      }
    } finally {
      await client.query(loadSql('index-unlock'), [INDEX_LOCK_KEY.toString()]);
    }
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    if (cancel) signal?.removeEventListener('abort', cancel);
    client.release(broken);
  }
}
