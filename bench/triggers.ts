// bench:triggers — what embedsync's triggers cost the application's own writes (prints figures; not a test).
// One `leads` table migrated with the test model; every figure is bare (DISABLE TRIGGER USER, and without the
// new-rows index that takes the place of an INSERT trigger) against embedsync's triggers and index, in interleaved
// rounds of the same run, with fsync=off (CPU-bound) and then fsync=on:
//  1. pgbench, single-row statements, 2 clients: UPDATE of a non-document column, UPDATE of the title, INSERT.
//     Each run starts from the table vacuumed and a checkpoint.
//  2. Bulk: INSERT of 100,000 rows in 10,000-row statements (into a plain table and one of 4 hash partitions);
//     UPDATE of 100,000 rows, non-text and text.
// With triggers, single-row statements run twice: the application's statement alone (its change log moved into the
// queue after the run), and with the log moved every 100 ms during the run (as a daemon's watch does) on the same
// two cores; after a bulk UPDATE the time to move its log is printed apart. The title UPDATE also runs with the
// compiled function (the extension embedsync_capture, where the server has it) in place of the PL/pgSQL one, alone
// and with the log moved, and with a PL/pgSQL trigger that does nothing: the least any PL/pgSQL row trigger costs it;
// the bulk title UPDATE also with the compiled function.
// Ratios are medians over the rounds; compare them within one run (the machine's speed changes between runs).
//   usage: npm run bench:triggers [-- --rows 20000 --seconds 4 --rounds 3 --bulk 100000 --skip-logical]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { createPool } from '../src/db/pool.ts';
import { withBenchDatabase } from './bench-database.ts';
import { CHECKSUM, LEADS_COLUMNS, captureWith, fillLeads, referenceTriggers, migrateTable, setCapture } from './trigger-setup.ts';
import { captureNames, installCapture, removeCapture } from '../src/db/logical-capture.ts';
import { createCaptureLook } from '../src/sync/capture-look.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { drainChanges } from '../src/queue/change-log.ts';

const { values } = parseArgs({ options: {
  rows: { type: 'string', default: '20000' },
  seconds: { type: 'string', default: '4' },
  rounds: { type: 'string', default: '3' },
  bulk: { type: 'string', default: '100000' },
  // Triggers only (the logical capture's rounds take half the run).
  'skip-logical': { type: 'boolean', default: false },
} });
const ROWS = Number(values.rows);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const BULK = Number(values.bulk);

const SCRIPTS = {
  'UPDATE leads SET status = status + 1 (no document column)':
    `\\set id random(1, ${ROWS})\nUPDATE leads SET status = status + 1 WHERE id = :id;\n`,
  'UPDATE leads SET title = …':
    `\\set id random(1, ${ROWS})\nUPDATE leads SET title = 'Квартира ' || :id || ' ' || random() WHERE id = :id;\n`,
  'INSERT INTO leads (title, description) …':
    `INSERT INTO leads (title, description) VALUES ('Новая квартира у метро', 'Две комнаты, ремонт, звонить после 18:00');\n`,
} as const;

const execFileAsync = promisify(execFile);
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

/**
 * One pgbench run on `leads`, from the same start each time: the table vacuumed (autovacuum is off on it, so it
 * never runs during one run and not another) and a fresh checkpoint (no run pays for the last one's pages).
 */
async function pgbench(db: pg.Client, url: string, script: string, fsync: boolean): Promise<number> {
  await db.query('VACUUM leads');
  await db.query('CHECKPOINT');
  const { stdout: out } = await execFileAsync('pgbench', [
    '-n', '-c', '2', '-j', '2', '-T', String(SECONDS), '-M', 'prepared', '-f', script, url,
  ], {
    encoding: 'utf8', env: { ...process.env, PGOPTIONS: `-c synchronous_commit=${fsync ? 'on' : 'off'}` },
  });
  return Number(/tps = ([0-9.]+)/.exec(out)![1]);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Runs `step` every 100 ms (a daemon's watch interval) until `during` settles; returns what `during` gave. */
async function every100ms<T>(during: Promise<T>, step: () => Promise<unknown>): Promise<T> {
  let running = true;
  const loop = (async () => {
    while (running) {
      await step();
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  const result = await during.finally(() => { running = false; });
  await loop;
  return result;
}

async function singleRow(db: pg.Client, url: string, dir: string, fsync: boolean): Promise<void> {
  console.log(`  single-row statements, pgbench 2 clients × ${SECONDS} s, ${ROUNDS} interleaved rounds (TPS with triggers, % of bare):`);
  console.log('    the application\'s statement alone (the change log moved into the queue after the run) | ' +
    'with the log moved every 100 ms during the run, on the same cores');
  const sql = (await inspectSource(db, loadConfig({ EMBEDSYNC_TABLE: 'leads' }).source)).sql;
  const drainer = new pg.Client({ connectionString: url });
  await drainer.connect();
  const drain = () => drainChanges(drainer, sql, 100);
  const reference = await referenceTriggers(db);
  try {
    for (const [label, text] of Object.entries(SCRIPTS)) {
      const file = join(dir, `${label.length}.sql`);
      writeFileSync(file, text);
      const alone: number[] = [];
      const moving: number[] = [];
      const bare: number[] = [];
      const moveMs: number[] = [];
      // Where a row trigger fires (an update of the text), also the least any row trigger costs: a copy of
      // embedsync's whose PL/pgSQL function does nothing.
      const floor: number[] = [];
      const withFloor = label.startsWith('UPDATE leads SET title');
      // And the same trigger calling the compiled function: alone, and with the log moved.
      const compiled: number[] = [];
      const compiledMoving: number[] = [];
      const withCompiled = withFloor && reference.compiled !== undefined;
      for (let r = 0; r < ROUNDS; r++) {
        await setCapture(db, 'leads', false);
        const b = await pgbench(db, url, file, fsync);
        await setCapture(db, 'leads', true);
        const t = await pgbench(db, url, file, fsync);
        // What that run left in the log, moved as a daemon would (its cost per entry, printed below).
        const logged = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.leads_changes')).rows[0]!.n;
        if (logged > 0) moveMs.push((await timed(drain)) / logged);
        await setCapture(db, 'leads', true);
        const m = await every100ms(pgbench(db, url, file, fsync), drain);
        if (withFloor) {
          const off = await captureWith(db, 'leads', reference.ours, reference.floor);
          floor.push(await pgbench(db, url, file, fsync) / b);
          await off();
        }
        if (withCompiled) {
          let off = await captureWith(db, 'leads', reference.ours, reference.compiled);
          compiled.push(await pgbench(db, url, file, fsync) / b);
          await off();
          off = await captureWith(db, 'leads', reference.ours, reference.compiled);
          compiledMoving.push(await every100ms(pgbench(db, url, file, fsync), drain) / b);
          await off();
        }
        bare.push(b);
        alone.push(t / b);
        moving.push(m / b);
      }
      const move = moveMs.length ? `; moving the log ${(median(moveMs) * 1000).toFixed(1)} µs an entry` : '';
      console.log(`    ${label.padEnd(58)} ${pct(median(alone)).padStart(5)} | ${pct(median(moving)).padStart(5)}  ` +
        `(rounds ${alone.map(pct).join(', ')} | ${moving.map(pct).join(', ')}; bare ${median(bare).toFixed(0)} TPS${move})`);
      if (withCompiled) {
        console.log(`      the compiled function (embedsync_capture) in place of the PL/pgSQL one: ${pct(median(compiled))} | ` +
          `${pct(median(compiledMoving))}  (rounds ${compiled.map(pct).join(', ')} | ${compiledMoving.map(pct).join(', ')})`);
      }
      if (withFloor) {
        console.log(`      a PL/pgSQL row trigger that does nothing, same definition: ${pct(median(floor))}  ` +
          `(rounds ${floor.map(pct).join(', ')})`);
      }
    }
  } finally {
    await drainer.end();
  }
}

/**
 * Logical capture (EMBEDSYNC_CAPTURE=logical) on leads: no INSERT or UPDATE trigger; while pgbench runs, the slot is
 * read as a daemon's watch reads it (every 100 ms), so the decoding's cost on the server is in the figure.
 */
async function logicalRows(db: pg.Client, url: string, dir: string, fsync: boolean): Promise<void> {
  const pool = createPool({ databaseUrl: url, max: 2 });
  const config = loadConfig({ EMBEDSYNC_TABLE: 'leads', DATABASE_URL: url });
  try {
    const { sql } = await inspectSource(db, config.source);
    const look = createCaptureLook({ pool, sql, names: await captureNames(db, sql), bulkRows: config.source.bulkRows, checksum: CHECKSUM });
    console.log(`  logical capture, the slot read every 100 ms during the run (TPS % of bare; changes read; behind at the end):`);
    for (const [label, text] of Object.entries(SCRIPTS)) {
      const file = join(dir, `${label.length}.sql`);
      writeFileSync(file, text);
      const ratios: number[] = [];
      let read = 0;
      let behind = 0;
      for (let r = 0; r < ROUNDS; r++) {
        await setCapture(db, 'leads', false);
        await drain(look);
        const b = await pgbench(db, url, file, fsync);
        await setCapture(db, 'leads', true);
        await drain(look);
        let running = true;
        const consumer = (async () => {
          while (running) {
            read += (await look()).changes;
            await new Promise((res) => setTimeout(res, 100));
          }
        })();
        const t = await pgbench(db, url, file, fsync);
        running = false;
        await consumer;
        behind = (await look()).changes;
        ratios.push(t / b);
      }
      console.log(`    ${label.padEnd(58)} ${pct(median(ratios)).padStart(5)}  (rounds ${ratios.map(pct).join(', ')}; ` +
        `${read.toLocaleString('en-US')} changes read, ${behind.toLocaleString('en-US')} left at the end of the last round)`);
    }
  } finally {
    await pool.end();
  }
}

/** Reads the slot until it has nothing more (what the bare round wrote is not the next round's work). */
async function drain(look: () => Promise<{ changes: number }>): Promise<void> {
  await new Promise((res) => setTimeout(res, 700)); // the WAL writer flushes asynchronous commits within this
  while ((await look()).changes > 0) { /* read on */ }
}

async function bulk(db: pg.Client): Promise<void> {
  const sql = (await inspectSource(db, loadConfig({ EMBEDSYNC_TABLE: 'bulk_leads' }).source)).sql;
  console.log(`  bulk statements over ${BULK.toLocaleString('en-US')} rows (time with triggers ÷ bare, median of ${ROUNDS}):`);
  const insert = (table: string) => async () => {
    for (let done = 0; done < BULK; done += 10_000) {
      await db.query(`INSERT INTO ${table} (title, description) SELECT 'Квартира ' || g, 'Описание объекта номер ' || g ` +
        'FROM generate_series(1, $1::int) g', [Math.min(10_000, BULK - done)]);
    }
  };
  const cases: Record<string, () => Promise<unknown>> = {
    'INSERT in 10,000-row statements': insert('bulk_leads'),
    // A partitioned table has one INSERT trigger more, for rows moved between partitions (its WHEN is false for a new row).
    'the same into a table of 4 hash partitions': insert('part_leads'),
    'UPDATE of a non-document column': () => db.query('UPDATE bulk_leads SET status = status + 1'),
    'UPDATE of the title': () => db.query(`UPDATE bulk_leads SET title = title || '!'`),
  };
  // The title UPDATE also with the compiled function in place of the PL/pgSQL one, where the server has it.
  const reference = await referenceTriggers(db, 'bulk_leads');
  for (const [label, run] of Object.entries(cases)) {
    const inserts = !label.startsWith('UPDATE');
    const modes = label.endsWith('title') && reference.compiled ? ['bare', 'with', 'compiled'] as const : ['bare', 'with'] as const;
    const table = label.includes('partitions') ? 'part_leads' : 'bulk_leads';
    // The UPDATE rounds run on the rows the last INSERT round left, as embedded ones (the steady state).
    if (!inserts) {
      await db.query('UPDATE bulk_leads SET model_checksum = $1 WHERE model_checksum IS DISTINCT FROM $1', [CHECKSUM]);
      await db.query('VACUUM ANALYZE bulk_leads');
    }
    const ratios: number[] = [];
    const compiled: number[] = [];
    const moves: number[] = [];
    let withMs = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const ms: Record<'bare' | 'with' | 'compiled', number> = { bare: 0, with: 0, compiled: 0 };
      for (const mode of modes) {
        if (mode !== 'compiled') await setCapture(db, table, mode === 'with');
        const off = mode === 'compiled' ? await captureWith(db, table, reference.ours, reference.compiled!) : undefined;
        if (inserts) await db.query(`TRUNCATE ${table}`);
        await db.query('CHECKPOINT');
        ms[mode] = await timed(run);
        await off?.();
      }
      ratios.push(ms.with / ms.bare);
      if (ms.compiled) compiled.push(ms.compiled / ms.bare);
      withMs = ms.with;
      // What the statement left in the change log, moved into the queue as a daemon's watch would (not the application's time).
      moves.push(await timed(() => drainChanges(db, sql, 100)));
    }
    const rate = inserts ? `, ${Math.round(BULK / (withMs / 1000)).toLocaleString('en-US')} rows/s with triggers` : '';
    const moved = label.endsWith('title') ? `; its log moved into the queue afterwards in ${(median(moves) / 1000).toFixed(2)} s` : '';
    // New rows fire the move trigger's WHEN only: nothing may reach the log.
    const logged = table === 'part_leads' ? `, ${(await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM embedsync.part_leads_changes')).rows[0]!.n} rows in its change log` : '';
    const rounds = ratios.map((x) => x.toFixed(2)).join(', ');
    console.log(`    ${label.padEnd(58)} ${median(ratios).toFixed(2)}×  (rounds ${rounds}${rate}${logged}${moved})`);
    if (compiled.length) {
      console.log(`      the compiled function (embedsync_capture) in place of the PL/pgSQL one: ${median(compiled).toFixed(2)}×  ` +
        `(rounds ${compiled.map((x) => x.toFixed(2)).join(', ')})`);
    }
  }
}

async function main(): Promise<void> {
  await withBenchDatabase(async (url) => {
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    const dir = mkdtempSync(join(tmpdir(), 'embedsync-bench-triggers-'));
    try {
      await db.query('CREATE EXTENSION IF NOT EXISTS vector');
      for (const t of ['leads', 'bulk_leads']) await db.query(`CREATE TABLE ${t} ${LEADS_COLUMNS}`);
      await fillLeads(db, ROWS);
      await db.query(`CREATE TABLE part_leads ${LEADS_COLUMNS} PARTITION BY HASH (id)`);
      for (let p = 0; p < 4; p++) {
        await db.query(`CREATE TABLE part_leads_${p} PARTITION OF part_leads FOR VALUES WITH (MODULUS 4, REMAINDER ${p})`);
      }
      for (const table of ['leads', 'bulk_leads', 'part_leads']) await migrateTable(url, table);
      await db.query(`INSERT INTO bulk_leads (title, description) SELECT 'Квартира ' || g, 'Описание ' || g ` +
        'FROM generate_series(1, $1::int) g', [BULK]);
      // The steady state: existing rows embedded by the current model (outside the partial indexes).
      await db.query('UPDATE leads SET model_checksum = $1', [CHECKSUM]);
      await db.query('ALTER TABLE leads SET (autovacuum_enabled = off)'); // vacuumed before each pgbench run instead
      await db.query('VACUUM ANALYZE');
      console.log(`bench:triggers — leads of ${ROWS.toLocaleString('en-US')} rows, embedsync's triggers against bare, same run`);
      for (const fsync of [false, true]) {
        await db.query(`ALTER SYSTEM SET fsync = ${fsync ? 'on' : 'off'}`);
        await db.query('SELECT pg_reload_conf()');
        console.log(`fsync=${fsync ? 'on' : 'off'}${fsync ? '' : ' (CPU-bound)'}:`);
        await singleRow(db, url, dir, fsync);
        await bulk(db);
      }
      if (values['skip-logical']) return;
      // Last, as it leaves leads without its INSERT and UPDATE triggers.
      await installCapture(db, (await inspectSource(db, loadConfig({ EMBEDSYNC_TABLE: 'leads' }).source)).sql, 'logical');
      for (const fsync of [false, true]) {
        await db.query(`ALTER SYSTEM SET fsync = ${fsync ? 'on' : 'off'}`);
        await db.query('SELECT pg_reload_conf()');
        console.log(`fsync=${fsync ? 'on' : 'off'}${fsync ? '' : ' (CPU-bound)'}:`);
        await logicalRows(db, url, dir, fsync);
      }
    } finally {
      // The slot goes before the database can be dropped.
      await removeCapture(db, (await inspectSource(db, loadConfig({ EMBEDSYNC_TABLE: 'leads' }).source)).sql).catch(() => undefined);
      await db.query('ALTER SYSTEM RESET fsync').catch(() => undefined);
      await db.query('SELECT pg_reload_conf()').catch(() => undefined);
      await db.end();
    }
  });
}

await main();
