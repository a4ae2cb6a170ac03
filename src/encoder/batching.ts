// Token-budget batching. The model computes every padded position, so a batch costs its row count × its
// longest row, plus a fixed price per run (thread-pool dispatch, small-matrix inefficiency). Inputs are sorted
// by length (longest first) and cut into runs of neighbours by dynamic programming: the least total cost, with
// no batch above the padded-token budget. One long text among short ones gets a batch of its own instead of
// padding all of them to its length.

/**
 * The fixed price of one model run, in padded tokens. Measured: ~12 tokens' worth on a 24-layer, hidden-1024
 * encoder, ~30 on the 2-layer test model; a rough figure is enough, since sorted neighbours differ little.
 */
export const RUN_COST_TOKENS = 32;

/** Groups input indices into batches; every input appears exactly once. */
export function planBatches(lengths: readonly number[], maxBatchTokens: number, runCost = RUN_COST_TOKENS): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const n = order.length;
  const width = (k: number) => lengths[order[k]!]!;
  // best[j]: least cost of the first j sorted inputs; cut[j]: where the last batch of that plan starts.
  const best = new Float64Array(n + 1);
  const cut = new Int32Array(n + 1);
  for (let j = 1; j <= n; j++) {
    best[j] = Infinity;
    // Batch = sorted inputs i..j-1, padded to width(i). Going left, rows and width only grow, so the first
    // start over budget ends the search (a single over-long input still gets a batch of its own).
    for (let i = j - 1; i >= 0; i--) {
      const padded = (j - i) * width(i);
      if (padded > maxBatchTokens && i < j - 1) break;
      const cost = best[i]! + padded + runCost;
      if (cost < best[j]!) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  }
  const batches: number[][] = [];
  for (let j = n; j > 0; j = cut[j]!) batches.push(order.slice(cut[j], j));
  return batches.reverse();
}
