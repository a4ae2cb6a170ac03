// Shared setup for the sync tests: a fresh database with a leads table, migrated for the tiny model, and
// a way to run daemons against it with short intervals.
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createEncoder } from '../../src/encoder/index.ts';
import type { Encoder } from '../../src/encoder/types.ts';
import { TINY_MODEL_DIR } from '../support/tiny-model-dir.ts';
import { createLogger } from '../../src/log/index.ts';
import type { Metrics } from '../../src/metrics/index.ts';
import { migrateSchema } from '../../src/migration/schema-install.ts';
import { createClient, createPool } from '../../src/db/pool.ts';
import { startSyncDaemon, type SyncDaemon } from '../../src/sync/daemon.ts';
import { createLook, type Look } from '../../src/sync/row-watch.ts';
import type { SuspectGate } from '../../src/sync/suspects.ts';
import { inspectSource } from '../../src/db/source-info.ts';
import { readModelState } from '../../src/db/state-repository.ts';
import { createTestDatabase, LEADS_DDL, type TestDatabase } from './db.ts';

export const TEST_ENV = {
  EMBEDSYNC_POLL_INTERVAL_MS: '200',
  EMBEDSYNC_DEBOUNCE_MS: '5',
  EMBEDSYNC_LEASE_SECONDS: '2',
  EMBEDSYNC_RETRY_BASE_MS: '20',
  EMBEDSYNC_MAX_ATTEMPTS: '3',
  EMBEDSYNC_SWEEP_INTERVAL_MS: '60000',
  EMBEDSYNC_BATCH_SIZE: '64',
} as const;

/** The real local encoder on the committed tiny test model (64 dimensions, random weights). */
export async function createTestEncoder(): Promise<Encoder> {
  return createEncoder(loadConfig({ EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1' }).model);
}

/**
 * Counts how often each text was encoded, and lets a test hook into an encode call. The inner encoder's
 * capabilities (pace, scheduler, availability) go through, so a daemon runs on it as it would in production.
 */
export function instrument(inner: Encoder,
  hook?: (texts: readonly string[]) => Promise<void> | void): Encoder & { counts: Map<string, number> } {
  const counts = new Map<string, number>();
  return {
    info: inner.info,
    counts,
    async encode(texts, role, options) {
      for (const t of texts) counts.set(t, (counts.get(t) ?? 0) + 1);
      await hook?.(texts);
      return inner.encode(texts, role, options);
    },
    close: () => inner.close(),
    get pace() { return inner.pace; },
    get scheduler() { return inner.scheduler; },
    get availability() { return inner.availability; },
    get folder() { return inner.folder; },
  };
}

export interface SyncTestDb {
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  readonly config: Config;
  readonly encoder: Encoder;
  startDaemon(opts?: {
    encoder?: Encoder; owner?: string; env?: Record<string, string>; metrics?: Metrics; gate?: SuspectGate;
  }): Promise<SyncDaemon>;
  /**
   * One look of the daemons' watch (new rows of a table with sequence ids enqueued, src/sync/row-watch.ts), without
   * a daemon: what a test that reads embedsync.queue right after an INSERT needs first.
   */
  look(): Promise<Look>;
  close(): Promise<void>;
}

export async function setupSyncDb(env: Record<string, string> = {}): Promise<SyncTestDb> {
  const db = await createTestDatabase('sync');
  const config = loadConfig({ ...TEST_ENV, ...env, DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR });
  const pool = createPool({ databaseUrl: db.url, max: 8 });
  await pool.query(LEADS_DDL);
  const encoder = await createTestEncoder();
  const c = createClient({ databaseUrl: db.url });
  await c.connect();
  try {
    await migrateSchema(c, config.source,
      { name: encoder.info.name, checksum: encoder.info.checksum, dimensions: encoder.info.dimensions });
  } finally {
    await c.end();
  }
  const daemons: SyncDaemon[] = [];
  const logger = createLogger(process.env.EMBEDSYNC_TEST_LOG ?? 'silent');
  const look = () => lookOnce(pool, config);
  return {
    db, pool, config, encoder, look,
    async startDaemon(o = {}) {
      const cfg = o.env ? loadConfig({ ...TEST_ENV, ...env, ...o.env, DATABASE_URL: db.url }) : config;
      const d = await startSyncDaemon({
        pool, connectListener: () => createClient({ databaseUrl: db.url, applicationName: 'embedsync-listener' }),
        encoder: o.encoder ?? encoder, source: cfg.source, sync: cfg.sync, logger,
        ...(o.owner ? { owner: o.owner } : {}),
        ...(o.metrics ? { metrics: o.metrics } : {}),
        ...(o.gate ? { gate: o.gate } : {}),
      });
      daemons.push(d);
      return d;
    },
    async close() {
      await Promise.all(daemons.map((d) => d.stop()));
      await pool.end();
      await encoder.close();
      await db.drop();
    },
  };
}

/** One look of the daemons' watch at `config`'s table, without a daemon (src/sync/row-watch.ts). */
export async function lookOnce(db: pg.Pool | pg.Client, config: Pick<Config, 'source'>): Promise<Look> {
  const { sql } = await inspectSource(db, config.source);
  const checksum = (await readModelState(db, sql.sourceKey))?.checksum ?? '';
  return createLook({
    db, sql, target: async () => ({ kind: 'main', sql }), bulkRows: config.source.bulkRows, checksum, onDue: () => undefined,
  })();
}

/** The queue's entries in each lane (0 live, 1 bulk). */
export async function lanes(db: Pick<pg.Pool, 'query'>): Promise<{ live: number; bulk: number }> {
  const { rows } = await db.query<{ lane: number; n: number }>('SELECT lane, count(*)::int AS n FROM embedsync.queue GROUP BY lane');
  return { live: rows.find((r) => r.lane === 0)?.n ?? 0, bulk: rows.find((r) => r.lane === 1)?.n ?? 0 };
}

/** Entries of a table's change log (the INSERT and UPDATE triggers' ids not yet moved into the queue by a look). */
export async function logged(db: Pick<pg.Pool, 'query'>, table = 'leads'): Promise<number> {
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM embedsync.${table}_changes`)).rows[0]!.n;
}

/**
 * A free id of the hash-partitioned `leads` (MODULUS `modulus`) that lies in another partition than row `id`, other
 * than `not`: an UPDATE giving row `id` this id moves it between partitions.
 */
export async function idInAnotherPartition(db: Pick<pg.Pool, 'query'>, id: number, modulus: number, not: readonly number[] = []):
  Promise<number> {
  return (await db.query<{ id: number }>(`SELECT min(g)::int AS id
    FROM (SELECT r FROM generate_series(0, $2 - 1) r WHERE satisfies_hash_partition('leads'::regclass, $2, r, $1::bigint)) p,
         generate_series(1000, 100000) g
    WHERE NOT satisfies_hash_partition('leads'::regclass, $2, p.r, g::bigint)
      AND g <> ALL ($3::int[]) AND NOT EXISTS (SELECT 1 FROM leads WHERE id = g)`, [id, modulus, not])).rows[0]!.id;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 5000,
  everyMs = 20): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Parses pgvector's text output. */
export function parseVector(text: string): number[] {
  return text.slice(1, -1).split(',').map(Number);
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; }
  return dot / Math.sqrt(na * nb);
}

/** The document embedsync builds for the default text columns. */
export function documentOf(title: string | null, description: string | null): string {
  return [title, description].map((x) => x?.trim()).filter((x) => x).join('. ');
}
