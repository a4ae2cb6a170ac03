// Where a batch reads its documents and writes its vectors, per the state table: the main columns normally, the
// shadow columns while a dimension migration to this writer's model backfills, nothing at all when this writer's
// model is not (or no longer) the recorded one. Each batch gets its target when it is claimed and keeps it to
// the end (BatchTarget), so every step of one batch goes to the same columns whatever another loop reads
// meanwhile. The state is re-read at most every `ttlMs` and at once after a read or write fails (a swap renames
// the columns under a running daemon: that batch is released and the next one goes to the right place). Every
// read of the state is also handed to onState, so the daemon can tell its operator when migrate has recorded
// another model (src/sync/model-watch.ts).
import type { SourceConfig } from '../config/index.ts';
import { nextColumns, withColumns, writeTargetFor, type ModelState, type WriteTarget } from '../db/model-state.ts';
import type { Queryable } from '../db/pool.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { readModelState } from '../db/state-repository.ts';
import { chunkedQueueOps } from './chunk-write.ts';
import type { QueueOps } from './queue.ts';

/** One batch's read and write, bound to the columns chosen when it was claimed. */
export interface BatchTarget {
  /** 'main': the embedding columns; 'next': the shadow columns of a migration to this model. */
  readonly kind: 'main' | 'next';
  readonly readDocuments: QueueOps['readDocuments'];
  readonly write: QueueOps['write'];
}

export interface WriteTargets {
  /** The queue's own operations (claim, release, leases, failures, stats), the same whatever the target. */
  readonly queue: QueueOps;
  /** The current target, re-read from the state table when the cached one is older than ttlMs. */
  refresh(): Promise<WriteTarget>;
  /** The target of a batch claimed now; undefined while this model writes nothing (idle). */
  forBatch(): Promise<BatchTarget | undefined>;
  /** Forget the cached target: the next refresh() reads the state (on a model-change notification). */
  invalidate(): void;
}

export interface WriteTargetsOptions {
  readonly ttlMs?: number;
  readonly onState?: (state: ModelState | undefined, target: WriteTarget) => void;
}

export function writeTargets(
  db: Queryable, source: SourceConfig, s: SourceSql, vectorOid: number, checksum: string, o: WriteTargetsOptions = {},
): WriteTargets {
  const ttlMs = o.ttlMs ?? 500;
  const main = chunkedQueueOps(db, s, vectorOid);
  let target: WriteTarget | undefined;
  let readAt = 0;

  const refresh = async (): Promise<WriteTarget> => {
    if (target && performance.now() - readAt < ttlMs) return target;
    const state = await readModelState(db, s.sourceKey);
    target = writeTargetFor(state, checksum, s, () => withColumns(s, nextColumns(source)));
    readAt = performance.now();
    o.onState?.(state, target);
    return target;
  };
  // A read or write that fails may have met renamed columns: the next batch reads the state before it claims.
  const forget = (err: unknown): never => {
    target = undefined;
    throw err;
  };
  const bind = (kind: 'main' | 'next', ops: QueueOps): BatchTarget => ({
    kind,
    readDocuments: (...a) => ops.readDocuments(...a).catch(forget),
    write: (...a) => ops.write(...a).catch(forget),
  });
  const onMain = bind('main', main);
  let onNext: BatchTarget | undefined;
  return {
    queue: main,
    refresh,
    async forBatch() {
      const t = await refresh();
      if (t.kind === 'idle') return undefined;
      return t.kind === 'main' ? onMain : (onNext ??= bind('next', chunkedQueueOps(db, t.sql, vectorOid)));
    },
    invalidate: () => { target = undefined; },
  };
}
