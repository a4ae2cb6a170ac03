// Reads test/fixtures/bad-input-corpus.json and expands its text specs ({repeat, times}, {concat}, {hex}).
import { readFileSync } from 'node:fs';

export type TextSpec = string | { repeat: string; times: number } | { concat: TextSpec[] } | { hex: string };

export interface CorpusCase {
  readonly name: string;
  readonly row?: { readonly title: TextSpec | null; readonly description: TextSpec | null };
  readonly sync: {
    readonly outcome: 'embedded' | 'blank' | 'rejected' | 'n/a'; readonly why?: string; readonly stored?: Record<string, string>;
  };
  readonly http: {
    readonly path?: string;
    readonly text?: TextSpec;
    readonly body?: unknown;
    readonly raw?: readonly (string | { hex: string })[];
    readonly status: number;
    readonly message?: string;
    readonly item_errors?: Readonly<Record<string, string>>;
  };
}

export const CORPUS: readonly CorpusCase[] = (JSON.parse(
  readFileSync(new URL('../fixtures/bad-input-corpus.json', import.meta.url), 'utf8'),
) as { cases: CorpusCase[] }).cases;

export function isHex(spec: unknown): spec is { hex: string } {
  return typeof spec === 'object' && spec !== null && 'hex' in spec;
}

/** A text spec as a string ({hex} specs are bytes, not text: see isHex). */
export function expand(spec: TextSpec): string {
  if (typeof spec === 'string') return spec;
  if ('repeat' in spec) return spec.repeat.repeat(spec.times);
  if ('concat' in spec) return spec.concat.map(expand).join('');
  throw new Error('raw bytes are not text');
}

/** Expands text specs anywhere inside a JSON value (request bodies). */
export function expandDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expandDeep);
  if (value && typeof value === 'object') {
    if ('repeat' in value || 'concat' in value) return expand(value as TextSpec);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandDeep(v)]));
  }
  return value;
}

/** The bytes of an HTTP request the case describes. */
export function requestOf(c: CorpusCase): { path: string; payload: Buffer } {
  const h = c.http;
  const path = h.path ?? '/embed';
  if (h.raw) {
    return { path, payload: Buffer.concat(h.raw.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.hex, 'hex')))) };
  }
  const body = h.text !== undefined ? { text: expand(h.text), role: 'document' } : expandDeep(h.body);
  // JSON.stringify writes lone surrogates as \u escapes, so they reach the server as the client sent them.
  return { path, payload: Buffer.from(JSON.stringify(body), 'utf8') };
}
