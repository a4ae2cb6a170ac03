// Shared setup for the model-migration, index and search tests: a leads table with generated listings,
// configs for any model folder, the full `migrate` sequence as the command runs it, and a daemon run
// until every row is embedded.
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createEncoder } from '../../src/encoder/index.ts';
import type { Encoder } from '../../src/encoder/types.ts';
import { createLogger } from '../../src/log/index.ts';
import { createClient, createPool } from '../../src/db/pool.ts';
import { startSyncDaemon, type SyncDaemon } from '../../src/sync/daemon.ts';
import { finishMigrate, migrate } from '../../src/migration/migrate.ts';
import { migrateModel, type ModelMigrationOptions, type ModelMigrationOutcome } from '../../src/migration/model-migration.ts';
import type { ShadowMigrationResult } from '../../src/migration/steps.ts';
import { finishLines, modelMigrationLines } from '../../src/cli/migrate-report.ts';
import { createTestDatabase, LEADS_DDL, type TestDatabase } from './db.ts';
import { TEST_ENV, waitFor } from './sync.ts';

const KIND = ['Квартира', 'Дом', 'Офис', 'Склад', 'Flat', 'House', 'Office', 'Studio', 'Дача', 'Гараж'];
const ADJ = ['светлая', 'новая', 'уютный', 'просторный', 'quiet', 'bright', 'renovated', 'cheap', 'large', 'small', 'старый', 'тихий'];
const PLACE = ['у метро', 'в центре', 'у парка', 'near the river', 'by the station', 'downtown', 'на окраине', 'у моря', 'в новостройке',
  'near school'];
const EXTRA = ['ремонт', 'балкон', 'парковка', 'мебель', 'garden', 'garage', 'lift', 'view', 'terrace', 'кухня-гостиная', 'две комнаты',
  'three rooms'];
export const CITIES = ['Москва', 'Казань', 'Сочи', 'Пермь', 'Tver', 'Omsk'];

/** A deterministic, varied listing for row i. */
export function listing(i: number): { title: string; description: string; city: string; price: number } {
  const p = (arr: readonly string[], k: number) => arr[Math.floor(k) % arr.length]!;
  return {
    title: `${p(KIND, i)} ${p(ADJ, i / 3 + i * 7)} ${p(PLACE, i / 11 + i * 3)}`,
    description: `${p(EXTRA, i * 5 + 1)}, ${p(EXTRA, i / 13 + 2)}, ${p(ADJ, i / 17)} ${p(EXTRA, i / 29 + i)} #${i % 97}`,
    city: p(CITIES, i / 7 + i),
    price: 1_000_000 + (i * 7919) % 9_000_000,
  };
}

export async function insertListings(db: pg.Pool | pg.Client, from: number, count: number): Promise<void> {
  for (let start = from; start < from + count; start += 5000) {
    const n = Math.min(5000, from + count - start);
    const ls = Array.from({ length: n }, (_, k) => listing(start + k));
    await db.query(
      'INSERT INTO leads (title, description, city, price) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[])',
      [ls.map((l) => l.title), ls.map((l) => l.description), ls.map((l) => l.city), ls.map((l) => l.price)]);
  }
}

export interface MigrateTestDb {
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  config(modelDir: string, env?: Record<string, string>): Config;
  encoder(modelDir: string): Promise<Encoder>;
  /** migrate as the command runs it: model change, else the plain migrate + backfill, then functions and index. */
  migrate(o: Omit<ModelMigrationOptions, 'config'> & { env?: Record<string, string> }): Promise<MigrateRun>;
  /** Runs a daemon on `encoder` until no row lacks a vector of that model, then stops it. */
  embedAll(encoder: Encoder, env?: Record<string, string>): Promise<void>;
  startDaemon(encoder: Encoder, env?: Record<string, string>): Promise<SyncDaemon>;
  close(): Promise<void>;
}

/** The model change's outcome, with the lines the command prints for the whole run. */
export interface MigrateRun {
  readonly outcome: ModelMigrationOutcome;
  readonly handled: boolean;
  readonly lines: readonly string[];
  readonly shadow?: ShadowMigrationResult;
}

export async function setupMigrateDb(rows: number, baseEnv: Record<string, string> = {}): Promise<MigrateTestDb> {
  const db = await createTestDatabase('migr');
  const pool = createPool({ databaseUrl: db.url, max: 6 });
  await pool.query(LEADS_DDL);
  await insertListings(pool, 0, rows);
  const encoders: Encoder[] = [];
  const daemons: SyncDaemon[] = [];
  const logger = createLogger(process.env.EMBEDSYNC_TEST_LOG ?? 'silent');
  const config = (modelDir: string, env: Record<string, string> = {}) =>
    loadConfig({ ...TEST_ENV, EMBEDDING_THREADS: '1', ...baseEnv, ...env, DATABASE_URL: db.url, EMBEDDING_MODEL: modelDir });
  const startDaemon = async (encoder: Encoder, env: Record<string, string> = {}) => {
    const cfg = config(encoder.info.name, env);
    const d = await startSyncDaemon({
      pool, encoder, source: cfg.source, sync: cfg.sync, logger,
      connectListener: () => createClient({ databaseUrl: db.url, applicationName: 'embedsync-listener' }),
    });
    daemons.push(d);
    return d;
  };
  return {
    db, pool, config, startDaemon,
    async encoder(modelDir) {
      const e = await createEncoder(config(modelDir).model);
      encoders.push(e);
      return e;
    },
    async migrate({ env, ...o }) {
      const cfg = config(o.encoder.info.name, env);
      const pre = await migrateModel({ ...o, config: cfg });
      const lines = modelMigrationLines(cfg, pre);
      const run = { outcome: pre, handled: pre.handled, ...(pre.kind === 'shadow' ? { shadow: pre.shadow } : {}) };
      if (pre.handled) return { ...run, lines };
      const r = await migrate({ config: cfg, model: o.encoder.info, ...(o.updateSettings ? { updateSettings: true } : {}) });
      return { ...run, lines: [...lines, `enqueued ${r.enqueued}`, ...finishLines(await finishMigrate(cfg, o.encoder.info))] };
    },
    async embedAll(encoder, env) {
      const d = await startDaemon(encoder, env);
      const cfg = config(encoder.info.name, env);
      // Every row by this model and nothing queued or logged: after an edit with the same model the checksums
      // already match, and only the change log and the queue say whether the daemon has written the new text's vector.
      await waitFor('all rows embedded', async () => {
        const { rows: r } = await pool.query<{ n: number; queued: boolean }>(
          `SELECT count(*)::int AS n,
                  EXISTS (SELECT 1 FROM embedsync.queue UNION ALL SELECT 1 FROM embedsync.leads_changes) AS queued
           FROM leads WHERE ${cfg.source.checksumColumn} IS DISTINCT FROM $1`, [encoder.info.checksum]);
        return r[0]!.n === 0 && !r[0]!.queued;
      }, 120_000, 100);
      await d.stop();
    },
    async close() {
      await Promise.all(daemons.map((d) => d.stop()));
      await Promise.all(encoders.map((e) => e.close()));
      await pool.end();
      await db.drop();
    },
  };
}
