// What embedsync does with database errors: tells "not migrated" apart from everything else (which is
// transient or an operator's problem, not a reason to tell them to migrate), and strips row values from
// error messages before they reach logs or dead letters (docs/security.md: values from rows are never logged).

/** Undefined table, column, schema, function or type: the schema embedsync needs is not (fully) there. */
export const NOT_MIGRATED_CODES = ['42P01', '42703', '3F000', '42883', '42704'] as const;

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isNotMigrated(err: unknown): boolean {
  return (NOT_MIGRATED_CODES as readonly string[]).includes(sqlState(err) ?? '');
}

/** Insufficient privilege: a statement the role may not run (migrate then warns instead of failing). */
export const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * SQLSTATEs that point at one row's data (22 data exception, 23 constraint, 42804 datatype mismatch, P0001 a
 * user RAISE): a batch failing with one is split until the row is alone; any other error is the database's.
 */
export function isRowDataError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23') || code === '42804' || code === 'P0001');
}

// A quoted name right after one of these words is an identifier (or an encoding), not a value.
const IDENTIFIER_WORDS = /(?:relation|column|constraint|table|type|index|function|encoding|schema|sequence|domain|operator|view|trigger|enum|database|role|extension|of)\s*$/i;

/**
 * The message without the values Postgres quotes into it: `invalid input syntax for type integer: "…"`.
 * Identifiers stay; anything after ": " that is not a quoted identifier goes; a user RAISE (P0001) is
 * withheld entirely, since its text is the function author's and may hold anything.
 */
export function redactMessage(message: string, code: string | undefined): string {
  if (code === 'P0001') return 'an exception raised by a function on the row (message withheld: it may hold row values)';
  let out = message.replace(/"(?:[^"]|"")*"/g, (q, offset: number) => (IDENTIFIER_WORDS.test(message.slice(0, offset)) ? q : '"…"'));
  // Unquoted values after the last colon, e.g. the bytes of "invalid byte sequence for encoding "UTF8": 0xe2 0x28".
  out = out.replace(/: (?!"…"$)(?!"[^"]*"$)[^:]*$/, ': …');
  return out;
}

/** A database error as it may be logged and stored: SQLSTATE, column and the redacted message, no detail. */
export class RedactedDatabaseError extends Error {
  override name = 'DatabaseError';
  readonly code: string | undefined;
  readonly column: string | undefined;
  constructor(err: unknown) {
    const code = sqlState(err);
    const column = (err as { column?: unknown } | null)?.column;
    const col = typeof column === 'string' ? column : undefined;
    const raw = err instanceof Error ? err.message : String(err);
    super(`${redactMessage(raw, code)}${code ? ` (SQLSTATE ${code}${col ? `, column ${col}` : ''})` : ''}`);
    this.code = code;
    this.column = col;
  }
}

/** Rethrows database errors that may carry row values (SQLSTATE set) redacted; other errors unchanged. */
export function redacted(err: unknown): never {
  if (sqlState(err) === undefined || err instanceof RedactedDatabaseError) throw err;
  throw new RedactedDatabaseError(err);
}
