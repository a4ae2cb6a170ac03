// The chaos harness's writer: inserts, updates (text and non-text columns, text set to NULL or blank, no-op
// text writes, rolled-back changes) and deletes leads continuously, riding out database restarts.
import type pg from 'pg';
import { sleep } from './chaos-procs.ts';

const WORDS = [
  'квартира', 'дом', 'офис', 'склад', 'центр', 'ремонт', 'срочно', 'продажа', 'аренда', 'Москва', 'Казань',
  'apartment', 'house', 'office', 'garage', 'sunny', 'renovated', 'balcony', 'parking', 'metro', 'garden',
  'two', 'rooms', 'floor', 'view', 'quiet', 'new', 'old', 'cheap', 'premium', '🏠', 'O\'Brien', '"quoted"',
] as const;

export function randomText(rnd: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rnd() * WORDS.length)]!);
  out.push(String(Math.floor(rnd() * 100_000)));
  return out.join(' ');
}

/** Seeds `rows` leads in one statement (before migrate, so its backfill enqueues them). */
export async function seedLeads(db: pg.Pool, rows: number): Promise<void> {
  await db.query(
    `INSERT INTO leads (title, description, city, price)
     SELECT 'Lead ' || g || ' ' || (ARRAY['квартира','house','office','склад','garage'])[1 + g % 5],
            CASE WHEN g % 17 = 0 THEN NULL ELSE 'Description of lead ' || g || ', ' || (g * 7919 % 1000) || ' m² near the metro' END,
            (ARRAY['Moscow','Kazan','Berlin'])[1 + g % 3], g % 1000
     FROM generate_series(1, $1::int) g`, [rows]);
}

export interface WriterStats {
  ops: number;
  inserted: number;
  textUpdates: number;
  otherUpdates: number;
  deleted: number;
  errors: number;
  readonly deletedIds: Set<string>;
}

/** Writes until `signal` aborts. Errors (the database restarting) are counted and ridden out. */
export async function runWriter(db: pg.Pool, rnd: () => number, signal: AbortSignal, maxIdAtStart: number,
  maxPauseMs: number): Promise<WriterStats> {
  const s: WriterStats = { ops: 0, inserted: 0, textUpdates: 0, otherUpdates: 0, deleted: 0, errors: 0, deletedIds: new Set() };
  let maxId = maxIdAtStart;
  const someIds = (n: number): string[] => Array.from({ length: n }, () => String(1 + Math.floor(rnd() * maxId)));
  const k = () => 1 + Math.floor(rnd() * 8);
  while (!signal.aborted) {
    const op = rnd();
    try {
      if (op < 0.18) {
        const n = k();
        const titles = Array.from({ length: n }, () => randomText(rnd, 3));
        const descs = Array.from({ length: n }, () => (rnd() < 0.1 ? null : randomText(rnd, 8)));
        const r = await db.query<{ id: string }>(
          'INSERT INTO leads (title, description, price) SELECT t, d, 100 FROM unnest($1::text[], $2::text[]) AS x(t, d) RETURNING id',
          [titles, descs]);
        for (const row of r.rows) maxId = Math.max(maxId, Number(row.id));
        s.inserted += r.rowCount ?? 0;
      } else if (op < 0.42) {
        const r = await db.query('UPDATE leads SET title = $2 WHERE id = ANY ($1::bigint[])', [someIds(k()), randomText(rnd, 3)]);
        s.textUpdates += r.rowCount ?? 0;
      } else if (op < 0.55) {
        // Per-row descriptions in one statement, so one trigger call sees many different rows.
        const r = await db.query(
          `UPDATE leads l SET description = x.d FROM unnest($1::bigint[], $2::text[]) AS x(id, d) WHERE l.id = x.id`,
          [someIds(k() * 4), Array.from({ length: 32 }, () => randomText(rnd, 6))]);
        s.textUpdates += r.rowCount ?? 0;
      } else if (op < 0.68) {
        const r = await db.query(`UPDATE leads SET price = price + 1, status = $2 WHERE id = ANY ($1::bigint[])`,
          [someIds(k() * 4), rnd() < 0.5 ? 'new' : 'contacted']);
        s.otherUpdates += r.rowCount ?? 0;
      } else if (op < 0.73) {
        // Text gone: one column NULL, both NULL, or whitespace only (a blank document: embedding NULL, not retried).
        const which = Math.floor(rnd() * 4);
        const set = ['title = NULL', 'description = NULL', 'title = NULL, description = NULL', `title = '   ', description = NULL`][which]!;
        const r = await db.query(`UPDATE leads SET ${set} WHERE id = ANY ($1::bigint[])`, [someIds(k())]);
        s.textUpdates += r.rowCount ?? 0;
      } else if (op < 0.78) {
        const r = await db.query('UPDATE leads SET title = title, description = description WHERE id = ANY ($1::bigint[])',
          [someIds(k() * 4)]);
        s.otherUpdates += r.rowCount ?? 0;
      } else if (op < 0.86) {
        const r = await db.query<{ id: string }>('DELETE FROM leads WHERE id = ANY ($1::bigint[]) RETURNING id', [someIds(k())]);
        for (const row of r.rows) s.deletedIds.add(row.id);
        s.deleted += r.rowCount ?? 0;
      } else if (op < 0.9) {
        // A change that rolls back must leave no trace the daemon acts on wrongly.
        await inTx(db, async (c) => {
          await c.query('UPDATE leads SET title = $2 WHERE id = ANY ($1::bigint[])', [someIds(k()), randomText(rnd, 2)]);
          throw new RolledBack();
        }).catch((err: unknown) => { if (!(err instanceof RolledBack)) throw err; });
      } else {
        // Several changes to the same rows in one transaction, then one more right after.
        const ids = someIds(k());
        await inTx(db, async (c) => {
          await c.query('UPDATE leads SET title = $2 WHERE id = ANY ($1::bigint[])', [ids, randomText(rnd, 2)]);
          await c.query('UPDATE leads SET description = $2 WHERE id = ANY ($1::bigint[])', [ids, randomText(rnd, 5)]);
        });
        const r = await db.query('UPDATE leads SET title = $2 WHERE id = ANY ($1::bigint[])', [ids, randomText(rnd, 3)]);
        s.textUpdates += r.rowCount ?? 0;
      }
      s.ops += 1;
    } catch {
      s.errors += 1;
      await sleep(100);
    }
    await sleep(Math.floor(rnd() * maxPauseMs));
  }
  return s;
}

class RolledBack extends Error {}

async function inTx(db: pg.Pool, fn: (c: pg.PoolClient) => Promise<void>): Promise<void> {
  const c = await db.connect();
  // The connection may die between statements (the restart); the next query reports it.
  const ignore = () => undefined;
  c.on('error', ignore);
  try {
    await c.query('BEGIN');
    await fn(c);
    await c.query('COMMIT');
    c.off('error', ignore);
    c.release();
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    c.off('error', ignore);
    // A client whose connection died (or whose rollback failed) is not given back to the pool.
    c.release(err instanceof RolledBack ? undefined : (err as Error));
    throw err;
  }
}
