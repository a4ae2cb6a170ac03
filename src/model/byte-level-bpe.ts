// Byte-level BPE (GPT-2 / RoBERTa): bytes mapped to printable characters, the GPT-2 pre-tokenizer split,
// and a deterministic merge learner for building small tokenizers from a built-in corpus.

/** GPT-2's bytes_to_unicode table: byte → printable character. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => { table[b] = String.fromCodePoint(cs[i]!); });
  return table;
})();

/** The GPT-2 split regex used by the ByteLevel pre-tokenizer (use_regex: true). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const utf8 = new TextEncoder();

export function toByteChars(piece: string): string {
  let s = '';
  for (const b of utf8.encode(piece)) s += BYTE_TO_CHAR[b];
  return s;
}

export interface LearnedBpe {
  /** Merges in priority order, each "left right". */
  readonly merges: readonly string[];
  /** The 256 byte characters followed by one token per merge. */
  readonly tokens: readonly string[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Learns merges from `corpus` until `tokenCount` new tokens exist: most frequent adjacent pair first, ties broken by the
 * pair's text so the result never depends on iteration order. Stops early when no pair occurs twice.
 */
export function learnByteLevelBpe(corpus: string, tokenCount: number): LearnedBpe {
  const counts = new Map<string, number>();
  for (const m of corpus.matchAll(GPT2_SPLIT)) {
    const w = toByteChars(m[0]);
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  const words = [...counts.entries()].sort(([a], [b]) => cmp(a, b)).map(([w, c]) => ({ symbols: [...w], count: c }));
  const merges: string[] = [];
  const tokens = [...BYTE_TO_CHAR];
  const known = new Set(tokens);
  while (tokens.length < BYTE_TO_CHAR.length + tokenCount) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 1;
    for (const [key, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== undefined && cmp(key, best) < 0)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(' ') as [string, string];
    const merged = left + right;
    for (const word of words) {
      const s = word.symbols;
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === left && s[i + 1] === right) {
          out.push(merged);
          i++;
        } else out.push(s[i]!);
      }
      word.symbols = out;
    }
    merges.push(best);
    // Two merges can spell the same token ("a bc", "ab c"); the vocabulary lists it once.
    if (!known.has(merged)) {
      known.add(merged);
      tokens.push(merged);
    }
  }
  return { merges, tokens };
}
