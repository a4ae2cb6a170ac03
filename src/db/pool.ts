// Connections. DATABASE_URL when set, else libpq's PG* variables (pg reads them itself).
import pg from 'pg';

export type Pool = pg.Pool;
export type Client = pg.Client;
/** The smallest thing that can run a query: a pool or one client. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.Client, 'query'>;

export interface ConnectOptions {
  readonly databaseUrl: string | undefined;
  readonly applicationName?: string;
  readonly max?: number;
  /** Server-side limit for each statement (0: none). Pools default to STATEMENT_TIMEOUT_MS. */
  readonly statementTimeoutMs?: number;
}

/**
 * A connection attempt that hangs (a black-holed host, a full listen backlog) fails after this instead of
 * stalling start-up or a retry loop forever.
 */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * The daemon's and the API's statements are short (one batch, one sweep chunk): one stuck behind a lock for
 * longer fails, its rows go back to the queue and the loop backs off, rather than the process hanging.
 * Long work (migrate, index builds) runs on its own connections without a limit.
 */
export const STATEMENT_TIMEOUT_MS = 60_000;

export function createPool(o: ConnectOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: o.databaseUrl,
    application_name: o.applicationName ?? 'embedsync',
    max: o.max ?? 4,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: o.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS,
    // A dropped connection must not crash the process: the pool discards it and the caller's retry
    // loop takes a fresh one.
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', () => { /* an idle client died (server restart); the pool replaces it */ });
  // A connection that ends while checked out (a restart during a look's drain or a sweep) also emits 'error' after
  // its query failed, and the pool takes its own listener off a client it lends: without this one, that event
  // would end the process. The query's rejection still reaches its caller, and release() drops the broken client.
  pool.on('connect', (client) => { client.on('error', () => undefined); });
  return pool;
}

export function createClient(o: ConnectOptions): pg.Client {
  return new pg.Client({
    connectionString: o.databaseUrl,
    application_name: o.applicationName ?? 'embedsync',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    ...(o.statementTimeoutMs ? { statement_timeout: o.statementTimeoutMs } : {}),
  });
}
