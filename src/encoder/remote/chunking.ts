// Splits one encode call into requests that fit the remote's limits (inputs per request, request body
// bytes), and into at least as many requests as may be in flight, so a batch keeps every permitted
// connection busy instead of waiting on one long request.

export interface ChunkLimits {
  readonly maxItems: number;
  readonly maxBytes: number;
}

/** JSON bytes of one input as it will travel (quotes, escapes, a comma). */
export function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) + 1;
}

/**
 * Consecutive index ranges [from, to) covering every input once. `parallel`: spread the inputs over at
 * least that many requests when there are enough of them (never below `minItems` per request).
 */
export function planChunks(sizes: readonly number[], limits: ChunkLimits, parallel = 1, minItems = 8): (readonly [number, number])[] {
  const n = sizes.length;
  if (n === 0) return [];
  const spread = Math.max(minItems, Math.ceil(n / Math.max(1, parallel)));
  const maxItems = Math.max(1, Math.min(limits.maxItems, spread));
  const chunks: (readonly [number, number])[] = [];
  let from = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const size = sizes[i]!;
    // An input over the byte limit on its own still gets its own request: the remote decides, per item.
    if (i > from && (i - from >= maxItems || bytes + size > limits.maxBytes)) {
      chunks.push([from, i]);
      from = i;
      bytes = 0;
    }
    bytes += size;
  }
  chunks.push([from, n]);
  return chunks;
}
