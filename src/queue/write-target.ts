// Queue operations whose read/write side follows the state table: the main columns normally, the shadow
// columns while a dimension migration to this writer's model backfills, nothing at all when this writer's
// model is not (or no longer) the recorded one. The target is re-read at most every `ttlMs` and at once
// after a write fails (a swap renames the columns under a running daemon: that batch is released and the
// next one goes to the right place). Every read of the state is also handed to onState, so the daemon can
// tell its operator when migrate has recorded another model (src/sync/model-watch.ts).
import type { SourceConfig } from '../config/index.ts';
import { nextColumns, withColumns, writeTargetFor, type ModelState, type WriteTarget } from '../db/model-state.ts';
import type { Queryable } from '../db/pool.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { readModelState } from '../db/state-repository.ts';
import { chunkedQueueOps } from './chunk-write.ts';
import type { QueueOps } from './queue.ts';

export interface TargetedOps {
  readonly ops: QueueOps;
  /** The current target, re-read from the state table when the cached one is older than ttlMs. */
  refresh(): Promise<WriteTarget>;
  /** Forget the cached target: the next refresh() reads the state (on a model-change notification). */
  invalidate(): void;
}

export interface TargetedOpsOptions {
  readonly ttlMs?: number;
  readonly onState?: (state: ModelState | undefined, target: WriteTarget) => void;
}

export function targetedQueueOps(db: Queryable, source: SourceConfig, s: SourceSql, vectorOid: number, checksum: string, o: TargetedOpsOptions = {}): TargetedOps {
  const ttlMs = o.ttlMs ?? 500;
  const main = chunkedQueueOps(db, s, vectorOid);
  let nextOps: QueueOps | undefined;
  let target: WriteTarget | undefined;
  let readAt = 0;
  let current: QueueOps = main;

  const refresh = async (): Promise<WriteTarget> => {
    if (target && performance.now() - readAt < ttlMs) return target;
    const state = await readModelState(db, s.sourceKey);
    target = writeTargetFor(state, checksum, s, () => withColumns(s, nextColumns(source)));
    readAt = performance.now();
    o.onState?.(state, target);
    if (target.kind === 'next') current = nextOps ??= chunkedQueueOps(db, target.sql, vectorOid);
    else current = main;
    return target;
  };
  const invalidate = (err: unknown): never => {
    target = undefined;
    throw err;
  };
  return {
    refresh,
    invalidate: () => { target = undefined; },
    ops: {
      claim: (...a) => main.claim(...a),
      release: (...a) => main.release(...a),
      extendLease: (...a) => main.extendLease!(...a),
      fail: (...a) => main.fail(...a),
      stats: () => main.stats(),
      readDocuments: (...a) => current.readDocuments(...a).catch(invalidate),
      write: (...a) => current.write(...a).catch(invalidate),
    },
  };
}
