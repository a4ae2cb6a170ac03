// Small value parsers for env/config-file settings. Each returns a value or a problem text,
// so the loader can report every bad setting at once instead of stopping at the first.

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (problem: string): Parsed<never> => ({ ok: false, problem });

export function parseInteger(raw: string, min: number, max: number): Parsed<number> {
  if (!/^-?\d+$/.test(raw.trim())) return bad(`must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) return bad(`must be between ${min} and ${max}, got ${n}`);
  return ok(n);
}

export function parseNumber(raw: string, min: number, max: number): Parsed<number> {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n)) return bad(`must be a number, got ${JSON.stringify(raw)}`);
  if (n < min || n > max) return bad(`must be between ${min} and ${max}, got ${n}`);
  return ok(n);
}

const TRUE = ['1', 'true', 'yes', 'on'] as const;
const FALSE = ['0', 'false', 'no', 'off'] as const;

export function parseBoolean(raw: string): Parsed<boolean> {
  const v = raw.trim().toLowerCase();
  if ((TRUE as readonly string[]).includes(v)) return ok(true);
  if ((FALSE as readonly string[]).includes(v)) return ok(false);
  return bad(`must be true or false, got ${JSON.stringify(raw)}`);
}

export function parseEnum<T extends string>(raw: string, choices: readonly T[]): Parsed<T> {
  const v = raw.trim().toLowerCase();
  return (choices as readonly string[]).includes(v) ? ok(v as T) : bad(`must be one of ${choices.join(', ')}, got ${JSON.stringify(raw)}`);
}

export interface RateLimit {
  readonly max: number;
  readonly windowMs: number;
  /** The original text, e.g. "100/minute", for logs and /model-info. */
  readonly text: string;
}

const UNITS: Readonly<Record<string, number>> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** The old service's slowapi format: "100/minute", "5/second", also "100 per minute". */
export function parseRate(raw: string): Parsed<RateLimit> {
  const m = /^\s*(\d+)\s*(?:\/|per)\s*(\d+\s*)?(second|minute|hour|day)s?\s*$/i.exec(raw);
  if (!m) return bad(`must look like 100/minute (units: second, minute, hour, day), got ${JSON.stringify(raw)}`);
  const max = Number(m[1]);
  if (max < 1) return bad('must allow at least 1 request');
  const mult = m[2] ? Number(m[2]) : 1;
  return ok({ max, windowMs: UNITS[m[3]!.toLowerCase()]! * mult, text: raw.trim() });
}

export function parseList(raw: string): Parsed<readonly string[]> {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return items.length > 0 ? ok(items) : bad('must list at least one item, comma-separated');
}

export function parseUrl(raw: string, protocols: readonly string[]): Parsed<string> {
  try {
    const u = new URL(raw);
    if (!protocols.includes(u.protocol)) return bad(`must use ${protocols.join(' or ')}, got ${u.protocol}`);
    return ok(raw);
  } catch {
    return bad('is not a valid URL');
  }
}

/** `query:search_query,document:search_document` → { query, document }; both roles must be named. */
export function parsePromptNames(raw: string): Parsed<Readonly<Record<'query' | 'document', string>>> {
  const out: Partial<Record<'query' | 'document', string>> = {};
  for (const part of raw.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^(query|document)\s*[:=]\s*(\S+)$/.exec(part);
    if (!m) return { ok: false, problem: `must look like query:NAME,document:NAME, got ${JSON.stringify(part)}` };
    out[m[1] as 'query' | 'document'] = m[2]!;
  }
  if (out.query === undefined || out.document === undefined) {
    return { ok: false, problem: 'must name a prompt for both query and document' };
  }
  return { ok: true, value: { query: out.query, document: out.document } };
}
