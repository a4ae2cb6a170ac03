// SQL identifiers from config end up in DDL and queries, so they are validated against a strict
// ASCII pattern (and emitted quoted by src/db/quote.ts). Anything else is refused with the reason.

const IDENT = /^[a-z_][a-z0-9_]*$/;
const MAX_IDENT_BYTES = 63; // NAMEDATALEN - 1: Postgres would silently truncate longer names.

/** Returns a problem description, or null when `name` is a safe identifier. */
export function identifierProblem(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (/[^\x20-\x7e]/.test(name)) return 'contains non-ASCII characters (lookalike letters are refused)';
  if (!IDENT.test(name)) {
    return 'must be a plain lower-case identifier: letters a-z, digits and _, not starting with a digit (no quotes, spaces, dots or ;)';
  }
  if (Buffer.byteLength(name) > MAX_IDENT_BYTES) return `is longer than ${MAX_IDENT_BYTES} bytes`;
  return null;
}

export interface QualifiedName {
  readonly schema: string;
  readonly name: string;
}

/** Parses `table` or `schema.table`; the schema defaults to public. */
export function parseQualifiedName(value: string): { value?: QualifiedName; problem?: string } {
  const parts = value.split('.');
  if (parts.length > 2) return { problem: 'has more than one dot; use table or schema.table' };
  const [schema, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : ['public', parts[0]!];
  for (const part of [schema, name]) {
    const problem = identifierProblem(part);
    if (problem) return { problem: `${JSON.stringify(part)} ${problem}` };
  }
  return { value: { schema, name } };
}
