// What the schema needs of the server, checked by migrate before it changes anything and shown by doctor:
// PostgreSQL 14 (the triggers are installed with CREATE OR REPLACE TRIGGER, new in 14: on 13 migrate would
// stop half-way with a syntax error) and pgvector 0.5.0 (the hnsw index method; the oldest release embedsync
// is checked against).
import type { Queryable } from './pool.ts';
import { loadSql } from './sql-template.ts';

export const REQUIRED_POSTGRES = { num: 140_000, text: '14' } as const;
export const REQUIRED_PGVECTOR = '0.5.0';

export interface ServerVersions {
  /** server_version, as the server spells it (e.g. "15.4 (Debian 15.4-1)"). */
  readonly server: string;
  /** server_version_num (e.g. 150004). */
  readonly serverNum: number;
  /** pgvector installed in this database, if it is. */
  readonly pgvectorInstalled: string | null;
  /** pgvector the server offers (what migrate's CREATE EXTENSION installs), if any. */
  readonly pgvectorAvailable: string | null;
}

export async function readServerVersions(db: Queryable): Promise<ServerVersions> {
  const r = (await db.query<{ server: string; server_num: number; pgvector_installed: string | null; pgvector_available: string | null }>(
    loadSql('server-versions'))).rows[0]!;
  return { server: r.server, serverNum: r.server_num, pgvectorInstalled: r.pgvector_installed, pgvectorAvailable: r.pgvector_available };
}

/** Each problem names the version found, the version needed and what to do; none when the server will do. */
export function versionProblems(v: ServerVersions): string[] {
  return [postgresProblem(v), pgvectorProblem(v)].filter((p): p is string => p !== undefined);
}

export function postgresProblem(v: Pick<ServerVersions, 'server' | 'serverNum'>): string | undefined {
  if (v.serverNum >= REQUIRED_POSTGRES.num) return undefined;
  return `PostgreSQL ${v.server} is too old: embedsync needs PostgreSQL ${REQUIRED_POSTGRES.text} or later ` +
    '(CREATE OR REPLACE TRIGGER); upgrade the server';
}

/** pgvector as installed here, else as migrate would install it; nothing to say when there is none (doctor says so). */
export function pgvectorProblem(v: Pick<ServerVersions, 'pgvectorInstalled' | 'pgvectorAvailable'>): string | undefined {
  const pgvector = v.pgvectorInstalled ?? v.pgvectorAvailable;
  if (pgvector === null || compareVersions(pgvector, REQUIRED_PGVECTOR) >= 0) return undefined;
  const update = v.pgvectorInstalled !== null && v.pgvectorAvailable !== null &&
    compareVersions(v.pgvectorAvailable, REQUIRED_PGVECTOR) >= 0;
  return `pgvector ${pgvector} is too old: embedsync needs pgvector ${REQUIRED_PGVECTOR} or later; ` +
    (update ? `the server has ${v.pgvectorAvailable}: ALTER EXTENSION vector UPDATE` : 'install a newer pgvector on the database server');
}

export class ServerVersionError extends Error {
  override name = 'ServerVersionError';
}

/** Throws ServerVersionError naming every version that falls short. */
export async function checkServerVersions(db: Queryable): Promise<ServerVersions> {
  const v = await readServerVersions(db);
  const problems = versionProblems(v);
  if (problems.length > 0) throw new ServerVersionError(problems.join('; '));
  return v;
}

/** Compares dotted versions numerically ("0.10.0" > "0.5.1"); a suffix like "-beta" is ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (s: string) => s.split(/[^0-9]+/).filter((x) => x !== '').map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
