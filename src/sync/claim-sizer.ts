// Sizes each sync claim by time: about one model run per encoder session, shared among the claim loops, so a
// batch's rows are written within seconds of the claim even on a model that takes seconds per run, a query
// waits behind little, shutdown finds little in hand, and a batch always finishes well inside its lease. With a
// fast model (or a remote backend, which has no pace) the configured batch size is the cap.
import type { Pace } from '../encoder/types.ts';

/** Padded tokens per real token of a run (rows in a run differ in length); a rough figure is enough. */
const PADDING = 1.15;
const SMOOTHING = 0.3;

export class ClaimSizer {
  /** Real tokens per encoded row, moving average; a lead-sized first guess. */
  #tokensPerRow = 128;

  constructor(
    private readonly maxRows: number,
    private readonly pace: () => Pace | undefined,
    /** Claim loops sharing the encoder (EMBEDSYNC_WORKERS). */
    private readonly loops: number,
    private readonly leaseSeconds: number,
  ) {}

  /** Rows to claim next. */
  rows(): number {
    const p = this.pace();
    if (!p) return this.maxRows;
    const perRow = this.#tokensPerRow * PADDING;
    // One run per session across all loops; never more than a quarter of the lease of model time.
    const runs = Math.max(1, p.parallelRuns / this.loops);
    const seconds = Math.min(p.runSeconds * runs, this.leaseSeconds / 4);
    return Math.max(1, Math.min(this.maxRows, Math.floor((p.tokensPerSecond * seconds) / perRow)));
  }

  /** Learns the rows' length from an encoded batch. */
  observe(rows: number, tokens: number): void {
    if (rows <= 0 || tokens <= 0) return;
    this.#tokensPerRow += SMOOTHING * (tokens / rows - this.#tokensPerRow);
  }
}
