// Quoting for what must be spliced into SQL text (DDL and the sql/ templates) because parameters cannot go
// there. Identifiers were validated by config (src/config/identifiers.ts) and are checked again here, so a
// name that reaches SQL any other way is refused rather than trusted.
import { identifierProblem, type QualifiedName } from '../config/index.ts';

export function quoteIdent(name: string): string {
  const problem = identifierProblem(name);
  if (problem) throw new Error(`unsafe SQL identifier ${JSON.stringify(name)}: ${problem}`);
  return `"${name}"`;
}

/** The name inside quoteIdent's quotes (validated names hold no quote character). */
export function unquoteIdent(quoted: string): string {
  if (!/^"[^"]+"$/.test(quoted)) throw new Error(`not a quoted identifier: ${quoted}`);
  return quoted.slice(1, -1);
}

export function quoteQualified(q: QualifiedName): string {
  return `${quoteIdent(q.schema)}.${quoteIdent(q.name)}`;
}

/** A model checksum as an SQL literal, for DDL (an index predicate) where parameters cannot go. */
export function checksumLiteral(checksum: string | undefined): string {
  if (checksum === undefined || !/^[A-Za-z0-9._:+/=-]{1,200}$/.test(checksum)) {
    throw new Error(`unexpected model checksum ${JSON.stringify(checksum)}`);
  }
  return `'${checksum}'`;
}
