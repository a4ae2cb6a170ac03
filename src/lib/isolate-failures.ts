// "Split the batch until the bad item stands alone": one bad row or input must not fail the others. A piece
// that fails for a reason that may be one item's fault is halved and each half tried again, down to single
// items, which then fail alone. An error that names its item (an index) skips the search: that item fails
// and the rest are tried again together.

export interface Isolation<T, R> {
  /** One try at a piece of the batch; `at` is the batch index of piece[0]. */
  readonly attempt: (piece: readonly T[], at: number) => Promise<R>;
  /** Whether a failure may be one item's fault, to be found by splitting; any other error is rethrown. */
  readonly isolates: (err: unknown) => boolean;
  /** The index within the piece that an error names, if any. */
  readonly blame?: (err: unknown) => number | undefined;
  /** An item that failed alone (`index` in the batch): its share of the result; throw to end the batch. */
  readonly failed: (item: T, err: unknown, index: number) => R | Promise<R>;
  /** Joins the results of pieces: halves in batch order; a named item's share comes before the rest's. */
  readonly join: (parts: readonly R[]) => R;
  /** Runs the two halves of a split; one after the other unless given (e.g. both at once, then settled). */
  readonly each?: (halves: readonly [() => Promise<R>, () => Promise<R>]) => Promise<readonly R[]>;
}

const oneAfterTheOther = async <R>(halves: readonly (() => Promise<R>)[]): Promise<R[]> => {
  const out: R[] = [];
  for (const half of halves) out.push(await half());
  return out;
};

/** Tries `items` in one piece first (even when empty); splits only what fails. */
export function isolateFailures<T, R>(items: readonly T[], o: Isolation<T, R>): Promise<R> {
  const each = o.each ?? oneAfterTheOther;
  // `index[i]`: the batch index of piece[i] (a piece left after a named item is not contiguous).
  const run = async (piece: readonly T[], index: readonly number[]): Promise<R> => {
    try {
      return await o.attempt(piece, index[0] ?? 0);
    } catch (err) {
      if (piece.length === 0 || !o.isolates(err)) throw err;
      const named = o.blame?.(err);
      if (named !== undefined && Number.isInteger(named) && named >= 0 && named < piece.length) {
        const alone = await o.failed(piece[named]!, err, index[named]!);
        if (piece.length === 1) return o.join([alone]);
        const others = (_: unknown, i: number) => i !== named;
        return o.join([alone, await run(piece.filter(others), index.filter(others))]);
      }
      if (piece.length === 1) return o.join([await o.failed(piece[0]!, err, index[0]!)]);
      const mid = piece.length >> 1;
      return o.join(await each([() => run(piece.slice(0, mid), index.slice(0, mid)), () => run(piece.slice(mid), index.slice(mid))]));
    }
  };
  return run(items, items.map((_, i) => i));
}
