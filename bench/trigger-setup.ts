// What bench:triggers and bench:trigger-instructions share: the `leads` table they measure, migrated as a user's
// would be, and the switches between bare, embedsync's capture and a trigger that does nothing.
import type pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { createClient } from '../src/db/pool.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { ensureNewRowsIndex } from '../src/db/new-rows-index.ts';
import { inspectSource } from '../src/db/source-info.ts';

export const CHECKSUM = 'bench00000000000';

/** The columns of the benchmarks' tables: a document (title, description) and columns outside it. */
export const LEADS_COLUMNS = `(id bigserial PRIMARY KEY, title text, description text, city text, price numeric,
  status int NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now())`;

/** `rows` rows in `leads` (created with LEADS_COLUMNS), in the shape the single-row statements expect. */
export async function fillLeads(db: pg.Client, rows: number): Promise<void> {
  await db.query('INSERT INTO leads (title, description, city, price) ' +
    `SELECT 'Квартира ' || g, 'Описание объекта номер ' || g || ', две комнаты, ремонт', 'Москва', g ` +
    'FROM generate_series(1, $1::int) g', [rows]);
}

/** `migrate` for `table` with a 64-dimension model of checksum CHECKSUM: embedsync's columns, triggers and indexes. */
export async function migrateTable(url: string, table: string): Promise<void> {
  const config = loadConfig({ EMBEDSYNC_TABLE: table, DATABASE_URL: url });
  const c = createClient({ databaseUrl: url });
  await c.connect();
  await migrateSchema(c, config.source, { name: 'bench', checksum: CHECKSUM, dimensions: 64 }).finally(() => c.end());
}

/** embedsync's capture of the table's changes on or off: its triggers, and the new-rows index (inserts). */
export async function setCapture(db: pg.Client, table: string, on: boolean): Promise<void> {
  await db.query(`ALTER TABLE ${table} ${on ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
  if (on) await ensureNewRowsIndex(db, (await inspectSource(db, loadConfig({ EMBEDSYNC_TABLE: table }).source)).sql);
  else await db.query(`DROP INDEX IF EXISTS ${table}_embedsync_new`);
  await db.query(`TRUNCATE embedsync.queue, embedsync.${table}_changes`);
}

/**
 * Copies of embedsync's UPDATE trigger on `table` (`ours`, quoted), each the statement that creates it with the same
 * definition: `floor` (bench_floor) calls a PL/pgSQL function that does nothing, the least any PL/pgSQL row trigger
 * costs the text UPDATE; `compiled` (bench_compiled) calls the compiled function of the extension embedsync_capture
 * (extension/, installed by scripts/setup.sh), undefined where the server does not have it.
 */
export async function referenceTriggers(db: pg.Client, table = 'leads'):
  Promise<{ readonly ours: string; readonly floor: string; readonly compiled: string | undefined }> {
  await db.query('CREATE OR REPLACE FUNCTION bench_noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$');
  const { rows: [available] } = await db.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'embedsync_capture') AS ok`);
  if (available!.ok) await db.query('CREATE EXTENSION IF NOT EXISTS embedsync_capture');
  const { rows: [t] } = await db.query<{ name: string; def: string }>(`SELECT quote_ident(tgname) AS name,
    pg_get_triggerdef(oid) AS def FROM pg_trigger
    WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgtype & 17 = 17`, [table]); // TRIGGER_TYPE_ROW | TRIGGER_TYPE_UPDATE
  const copy = (name: string, call: string) =>
    t!.def.replace(/^CREATE TRIGGER \S+/, `CREATE TRIGGER ${name}`).replace(/EXECUTE FUNCTION .*$/, `EXECUTE FUNCTION ${call}`);
  return {
    ours: t!.name,
    floor: copy('bench_floor', 'bench_noop()'),
    compiled: available!.ok ? copy('bench_compiled', `embedsync.capture_update('${table}_changes', 'id')`) : undefined,
  };
}

/**
 * embedsync's capture on `table` (setCapture) with `copy`, a statement of referenceTriggers, in place of its UPDATE
 * trigger `ours`. Returns what takes the copy off again (the next setCapture enables `ours`).
 */
export async function captureWith(db: pg.Client, table: string, ours: string, copy: string): Promise<() => Promise<void>> {
  await setCapture(db, table, true);
  await db.query(`ALTER TABLE ${table} DISABLE TRIGGER ${ours}`);
  await db.query(copy);
  const name = /^CREATE TRIGGER (\S+)/.exec(copy)![1]!;
  return async () => { await db.query(`DROP TRIGGER ${name} ON ${table}`); };
}
