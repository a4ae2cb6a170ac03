// Token-budget batching: inputs sorted by length (longest first) and grouped so that
// batch size × longest length (the padded tokens the model computes) stays within the budget.

/** Groups input indices into batches; every input appears exactly once. */
export function planBatches(lengths: readonly number[], maxBatchTokens: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const batches: number[][] = [];
  let current: number[] = [];
  let width = 0;
  for (const i of order) {
    if (current.length === 0) width = lengths[i]!;
    else if ((current.length + 1) * width > maxBatchTokens) {
      batches.push(current);
      current = [];
      width = lengths[i]!;
    }
    current.push(i);
  }
  if (current.length) batches.push(current);
  return batches;
}
