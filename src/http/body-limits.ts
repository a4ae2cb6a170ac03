// Per-route body limits, sized from what each route can use: a single text needs kilobytes, a batch megabytes,
// and a route that takes no text needs almost nothing. Nobody pays to read or parse more than their route uses.
import type { HttpConfig } from '../config/index.ts';

/** OpenAI's own limit on inputs per /v1/embeddings request; they are encoded MAX_BATCH_SIZE at a time. */
export const OPENAI_MAX_INPUTS = 2048;

/** No request of this API nests deeper than 4; the check runs on the raw bytes, before JSON.parse costs anything. */
export const MAX_JSON_DEPTH = 16;

/** The longest JSON spelling of one code point: a surrogate pair as two \uXXXX escapes. */
const BYTES_PER_CHAR = 12;

/** text-embeddings-inference's default --payload-limit: TEI clients post their lists to POST /embed within it. */
export const TEI_PAYLOAD_LIMIT = 2_000_000;

export interface BodyLimits {
  /** POST /embed in the native shape: one text. */
  readonly single: number;
  /** POST /embed in TEI's shape (a top-level "inputs"): a list, within TEI's own payload limit. */
  readonly teiEmbed: number;
  /** /embed/batch, /v1/embeddings, TEI's POST / and /invocations: BODY_LIMIT_BYTES. */
  readonly batch: number;
  /** Every other route (e.g. POST /cache/clear takes {}). */
  readonly small: number;
  /** A body over its route's limit is still read (and dropped) up to this size, so a client still sending reads
   *  the 413; a bigger one is cut off. */
  readonly drain: number;
}

export function bodyLimits(http: HttpConfig): BodyLimits {
  const single = Math.min(http.bodyLimitBytes, http.maxTextLength * BYTES_PER_CHAR + 4096);
  const teiEmbed = Math.min(http.bodyLimitBytes, Math.max(single, TEI_PAYLOAD_LIMIT));
  return { single, teiEmbed, batch: http.bodyLimitBytes, small: 16_384, drain: http.bodyLimitBytes };
}

/**
 * True when `bytes` nests arrays/objects deeper than `max`. Brackets inside strings do not count; the scan is
 * linear and allocation-free, so a hostile body costs no more than reading it.
 */
export function nestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return true;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return false;
}

/** True when the JSON object in `bytes` (possibly only its beginning) has the top-level key `key`. */
export function hasTopLevelKey(bytes: Uint8Array, key: string): boolean {
  const wanted = Buffer.from(JSON.stringify(key));
  let depth = 0;
  let inString = false;
  let expectKey = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      if (depth === 1 && expectKey && Buffer.compare(bytes.subarray(i, i + wanted.length), wanted) === 0) return true;
      inString = true;
      expectKey = false;
    } else if (b === 0x7b || b === 0x5b) {
      depth++;
      expectKey = depth === 1 && b === 0x7b;
    } else if (b === 0x7d || b === 0x5d) depth--;
    else if (b === 0x2c && depth === 1) expectKey = true;
  }
  return false;
}
