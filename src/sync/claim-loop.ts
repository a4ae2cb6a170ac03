// The claim loops of one daemon, each a worker loop (worker-loop.ts) that goes round the row's path: claim a
// batch (claim-batch.ts), then read, encode, write and release it (batch-processor.ts).
//
// EMBEDSYNC_WORKERS loops share the work like separate daemons would (SKIP LOCKED): while one writes a batch,
// the next is claimed, read and encoded, so the database and the encoder are both kept busy. One more loop
// claims live rows only: a new lead is claimed at once, not when a loop has finished its bulk batch, and its
// rows are encoded ahead of the bulk runs waiting for the encoder. Each loop is a lease owner of its own
// (owner/1, owner/2, ..., owner/live): after a lease lapses, one loop can never release, fail or renew rows
// another loop has claimed again. Every claim and its batch go through the suspect gate (suspects.ts).
import type { SyncConfig } from '../config/index.ts';
import type { Encoder } from '../encoder/types.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { WriteTargets } from '../queue/write-target.ts';
import { createBatchProcessor } from './batch-processor.ts';
import type { RowFailure } from './batch-steps.ts';
import { BulkShare } from './bulk-share.ts';
import { claimBatch, type Batch } from './claim-batch.ts';
import { ClaimSizer } from './claim-sizer.ts';
import type { GatePass, SuspectGate } from './suspects.ts';
import { startWorkerLoop, type WorkerLoop } from './worker-loop.ts';

export interface ClaimLoopsOptions {
  readonly targets: WriteTargets;
  readonly encoder: Encoder;
  readonly sync: SyncConfig;
  /** The daemon's lease owner; each loop holds its leases as `<owner>/<n>` or `<owner>/live`. */
  readonly owner: string;
  readonly gate: SuspectGate;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  /** Set when the daemon stops: the loops claim no more. */
  readonly stopping: AbortSignal;
}

/** Starts EMBEDSYNC_WORKERS loops over both lanes and one over live rows only. */
export function startClaimLoops(o: ClaimLoopsOptions): WorkerLoop[] {
  const loopCount = o.sync.workers ?? 1;
  // Shared by the loops: claims are sized so that all of them together keep the encoder's workers busy.
  const sizer = new ClaimSizer(o.sync.batchSize, () => o.encoder.pace, loopCount, o.sync.leaseSeconds);
  const onFailure = (f: RowFailure) =>
    o.logger.warn({ event: f.deadLettered ? 'row_dead_lettered' : 'row_failed', id: f.id, error: f.error }, 'row failed');
  return [
    ...Array.from({ length: loopCount }, (_, i) => startClaimLoop(o, 'all', `${o.owner}/${i + 1}`, sizer, onFailure)),
    // Last: the daemon's watch wakes it only when live rows are due (daemon.ts).
    startClaimLoop(o, 'live', `${o.owner}/live`, sizer, onFailure),
  ];
}

function startClaimLoop(
  o: ClaimLoopsOptions, lanes: 'all' | 'live', owner: string, sizer: ClaimSizer, onFailure: (f: RowFailure) => void,
): WorkerLoop {
  const { sync } = o;
  const processor = createBatchProcessor({
    queue: o.targets.queue, encoder: o.encoder, owner,
    maxAttempts: sync.maxAttempts, retryBaseMs: sync.retryBaseMs, leaseSeconds: sync.leaseSeconds,
    ...(o.metrics ? { metrics: o.metrics } : {}),
    onEncoded: (rows, tokens) => sizer.observe(rows, tokens),
    onFailure,
  });
  const claim = {
    targets: o.targets, encoder: o.encoder, sync, owner, lanes, sizer, bulkShare: new BulkShare(sync.bulkShare), gate: o.gate,
    logger: o.logger, metrics: o.metrics, onFailure, stopping: o.stopping, releaseOrphans: () => processor.releaseOrphans(),
  };
  const loop: WorkerLoop = startWorkerLoop<{ batch: Batch; pass: GatePass }>({
    // The gate's pass is held from the claim to the end of the batch's release.
    fetch: async () => {
      const pass = await o.gate.enter();
      try {
        const batch = await claimBatch(claim, pass);
        if (batch === 'again') loop.wake();
        else if (batch) return { batch, pass };
      } catch (err) {
        pass.leave();
        throw err;
      }
      pass.leave();
      return null;
    },
    process: ({ batch, pass }, signal) => processor.process(batch, signal).finally(() => pass.leave()),
    pollIntervalMs: sync.pollIntervalMs,
    debounceMs: sync.debounceMs,
    onError: (err) => o.logger.error({ event: 'sync_error', err }, 'sync batch failed; backing off'),
  });
  return loop;
}
