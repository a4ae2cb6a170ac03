// Cuts a long document into chunks of at most `size` of the model's own tokens, each repeating about `overlap`
// tokens of the one before it, cut at a sentence end where one is near the limit, else at a word boundary,
// else (one unbroken run of characters) at the token. Chunk texts are substrings of the document, trimmed.
//
// Token offsets: @huggingface/tokenizers gives token strings, not offsets. For byte-level BPE (GPT-2, RoBERTa,
// RoSBERTa: the default model family) a token string spells its bytes one character each, so offsets follow
// exactly from the UTF-8 bytes. Other tokenizers (SentencePiece's ▁, WordPiece's ##) are located by finding
// each token's surface in the text from where the previous one ended; a token that cannot be found (a
// normalizer changed it) takes the previous end, which only moves a cut a little, never past the limit:
// every chunk is tokenized once more on its own and shortened until it fits.
import { Tokenizer } from '@huggingface/tokenizers';
import { BYTE_TO_CHAR } from '../model/byte-level-bpe.ts';

export interface ChunkerOptions {
  /** Content tokens per chunk (specials and the prompt not counted). */
  readonly size: number;
  readonly overlap: number;
  /** The text every chunk is encoded after (the model's document prompt): chunks are counted as they follow it. */
  readonly prefix?: string;
  /** Most chunks of one document (default MAX_CHUNKS): the rest of a longer one is cut, as the model cuts a text. */
  readonly maxChunks?: number;
}

/**
 * 256 chunks: about 127,000 tokens of RoSBERTa, a 500-page book. A longer document keeps its first 256 chunks
 * (counted in embedsync_truncated_total), so one huge value can neither hold the encoder for hours nor the main
 * thread for long in the tokenizer: the text is cut before tokenizing to what that many chunks could hold.
 */
export const MAX_CHUNKS = 256;
/** No token of the supported tokenizers spells more than this many characters on average over a chunk. */
const MAX_CHARS_PER_TOKEN = 32;

/** Character spans [start, end) of each content token in `text`. */
interface Spans { readonly start: Int32Array; readonly end: Int32Array }

const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
/** A sentence ends at . ! ? … (closing quotes or brackets after it) followed by white space, or at a line break. */
const SENTENCE_END = /[.!?…。][)"'»”\]]*\s+|\n\s*/g;
const SPACE = /\s/;

export class Chunker {
  private readonly tokenizer: Tokenizer;
  private readonly byteLevel: boolean;
  private readonly prefixTokens: number;

  constructor(tokenizerJson: object, tokenizerConfig: object, readonly options: ChunkerOptions) {
    if (!(options.size >= 8)) throw new RangeError(`chunk size ${options.size} is too small: at least 8 tokens`);
    if (!(options.overlap >= 0 && options.overlap * 2 <= options.size)) {
      throw new RangeError(`chunk overlap ${options.overlap} must be between 0 and half the chunk size (${options.size})`);
    }
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.prefixTokens = options.prefix ? this.tokenizer.encode(options.prefix, { add_special_tokens: false }).ids.length : 0;
    const kind = (tokenizerJson as { pre_tokenizer?: { type?: string; pretokenizers?: { type?: string }[] } }).pre_tokenizer;
    this.byteLevel = kind?.type === 'ByteLevel' || (kind?.pretokenizers ?? []).some((p) => p.type === 'ByteLevel');
  }

  /** Content tokens of `text` as the model counts them. */
  count(text: string): number {
    const prefix = this.options.prefix ?? '';
    return this.tokenizer.encode(prefix + text, { add_special_tokens: false }).ids.length - this.prefixTokens;
  }

  /** The chunks of `text`: the text itself (trimmed) when it fits, none when it is blank. */
  split(text: string): string[] {
    return this.chunk(text).chunks;
  }

  /** The chunks, and whether the document was longer than maxChunks chunks (its end left out). */
  chunk(whole: string): { readonly chunks: string[]; readonly cut: boolean } {
    const max = this.options.maxChunks ?? MAX_CHUNKS;
    const limit = max * this.options.size * MAX_CHARS_PER_TOKEN;
    let text = whole;
    if (text.length > limit) {
      const code = text.charCodeAt(limit - 1);
      text = text.slice(0, code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit);
    }
    const chunks = this.cutAll(text, max);
    const cut = chunks.length > max || text.length < whole.length;
    return { chunks: chunks.slice(0, max), cut };
  }

  /** Cuts `text` into chunks, stopping once there are more than `max`. */
  private cutAll(text: string, max: number): string[] {
    const tokens: string[] = this.tokenizer.encode(text, { add_special_tokens: false }).tokens;
    // Counted on their own: the whole document after the prompt differs at most in its first token.
    const { size, overlap } = this.options;
    if (tokens.length <= size) return text.trim() ? [text.trim()] : [];
    const spans = this.byteLevel ? byteLevelSpans(text, tokens) : surfaceSpans(text, tokens);
    const n = tokens.length;
    const chunks: string[] = [];
    let first = 0;
    for (;;) {
      const from = spans.start[first]!;
      if (first + size >= n) {
        const last = text.slice(from).trim();
        if (last) chunks.push(last);
        return chunks;
      }
      // The first token that does not fit: cut at or before where it starts.
      const limit = spans.start[first + size]!;
      const cut = this.fit(text, from, boundary(text, from, limit));
      const next = tokenAt(spans, cut, first + 1);
      const piece = text.slice(from, cut).trim();
      if (piece) chunks.push(piece);
      if (chunks.length > max) return chunks;
      // The next chunk starts `overlap` tokens back, moved forward to the start of a word.
      let start = Math.max(first + 1, next - overlap);
      while (start < next && !startsWord(text, spans.start[start]!)) start += 1;
      if (start >= next) start = Math.max(first + 1, next - overlap);
      first = start;
    }
  }

  /**
   * Shortens text[from, cut) until it tokenizes, on its own (after the prompt), to at most `size` tokens: to an
   * earlier sentence end in the window's second half if there is one, else by words.
   */
  private fit(text: string, from: number, cut: number): number {
    let end = cut;
    const half = from + Math.floor((cut - from) / 2);
    while (end > half && this.count(text.slice(from, end).trim()) > this.options.size) {
      const earlier = boundary(text, from, end - 1, half);
      if (earlier >= end - 1 || earlier <= half) break;
      end = earlier;
    }
    while (this.count(text.slice(from, end).trim()) > this.options.size) {
      const space = text.lastIndexOf(' ', end - 2);
      end = space > from ? space : end - Math.max(1, Math.floor((end - from) / 20));
    }
    return end;
  }
}

/** Where to cut text[from, limit): the last sentence end in its second half, else the last white space there, else limit. */
function boundary(text: string, from: number, limit: number, half = from + Math.floor((limit - from) / 2)): number {
  const window = text.slice(half, limit);
  let sentence = -1;
  for (const m of window.matchAll(SENTENCE_END)) sentence = half + m.index + m[0].length;
  if (sentence > half && sentence <= limit) return sentence;
  for (let i = limit; i > half; i--) if (SPACE.test(text[i - 1]!)) return i;
  return limit;
}

/** The index of the first token starting at or after character `at` (at least `least`). */
function tokenAt(spans: Spans, at: number, least: number): number {
  let lo = least;
  let hi = spans.start.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spans.start[mid]! < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function startsWord(text: string, at: number): boolean {
  return at === 0 || SPACE.test(text[at]!) || SPACE.test(text[at - 1]!);
}

/** Exact spans from byte-level token strings: each character of a token is one byte of the UTF-8 text. */
function byteLevelSpans(text: string, tokens: readonly string[]): Spans {
  // UTF-8 byte offset -> UTF-16 offset.
  const bytes = new TextEncoder().encode(text);
  const charAt = new Int32Array(bytes.length + 1);
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    const cp = text.codePointAt(i)!;
    const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < len; k++) charAt[b + k] = i;
    b += len;
    if (cp >= 0x10000) i += 1;
  }
  charAt[bytes.length] = text.length;
  const start = new Int32Array(tokens.length);
  const end = new Int32Array(tokens.length);
  let at = 0;
  for (let t = 0; t < tokens.length; t++) {
    let len = 0;
    for (const c of tokens[t]!) len += CHAR_TO_BYTE.has(c) ? 1 : new TextEncoder().encode(c).length;
    start[t] = charAt[Math.min(at, bytes.length)]!;
    at += len;
    end[t] = charAt[Math.min(at, bytes.length)]!;
  }
  return { start, end };
}

/** Spans found by each token's surface form (▁ as a space, ## dropped), searched forward from the last one. */
function surfaceSpans(text: string, tokens: readonly string[]): Spans {
  const lower = text.toLowerCase();
  const start = new Int32Array(tokens.length);
  const end = new Int32Array(tokens.length);
  let at = 0;
  for (let t = 0; t < tokens.length; t++) {
    const surface = tokens[t]!.replace(/^##/, '').replace(/▁/g, ' ').trim().toLowerCase();
    const found = surface ? lower.indexOf(surface, at) : -1;
    if (found >= 0 && found - at < 64) {
      start[t] = at;
      at = found + surface.length;
    } else {
      start[t] = at;
    }
    end[t] = at;
  }
  return { start, end };
}
