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
}

export function createPool(o: ConnectOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: o.databaseUrl,
    application_name: o.applicationName ?? 'embedsync',
    max: o.max ?? 4,
    // A dropped connection must not crash the process: the pool discards it and the caller's retry
    // loop takes a fresh one.
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', () => { /* an idle client died (server restart); the pool replaces it */ });
  return pool;
}

export function createClient(o: ConnectOptions): pg.Client {
  return new pg.Client({ connectionString: o.databaseUrl, application_name: o.applicationName ?? 'embedsync' });
}
