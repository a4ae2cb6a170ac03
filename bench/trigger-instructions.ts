// bench:trigger-instructions — what embedsync's capture costs one single-row statement, counted in CPU instructions
// (valgrind's callgrind) instead of timed. The count is the same run after run, whatever else the machine is doing,
// so designs a few points apart can be told apart; pgbench's rounds (bench:triggers) move by ±15 points here.
// Instructions are not time (cache misses, the client's share): the TPS figures stay bench:triggers'.
// Each statement runs in a single-user backend (`postgres --single`) on a copy of the stopped cluster, PREPAREd once
// and EXECUTEd N and 3N times with the same ids: (count at 3N − count at N) ÷ 2N is one statement, without the
// backend's start. Every variant starts from the same copy: the table vacuumed, embedded, after a checkpoint.
//   usage: npm run bench:trigger-instructions [-- --rows 20000 --statements 500]
// Needs valgrind (Debian: apt-get install valgrind); runs its own throwaway cluster (not DATABASE_URL's).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, cpSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { CHECKSUM, LEADS_COLUMNS, captureWith, fillLeads, referenceTriggers, migrateTable, setCapture } from './trigger-setup.ts';

const { values } = parseArgs({ options: {
  rows: { type: 'string', default: '20000' },
  statements: { type: 'string', default: '500' },
} });
const ROWS = Number(values.rows);
const N = Number(values.statements);
const PG_BIN = `/usr/lib/postgresql/${process.env.PG_MAJOR ?? '15'}/bin`;
const ROOT = process.getuid?.() === 0;
/** initdb and postgres refuse root: as pg-start.sh does, run them as postgres. */
const asPostgres = (cmd: string, args: readonly string[]): [string, string[]] =>
  ROOT ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, [...args]];

/** The statements, as PREPAREd with one bigint parameter ($1, the row's id). */
const STATEMENTS = {
  'UPDATE leads SET title = … (the text changes)': `UPDATE leads SET title = 'Квартира ' || $1 || ' ' || random() WHERE id = $1`,
  'UPDATE leads SET title = title (named, unchanged)': 'UPDATE leads SET title = title WHERE id = $1',
  'UPDATE leads SET status = status + 1 (no document column)': 'UPDATE leads SET status = status + 1 WHERE id = $1',
  'INSERT INTO leads (title, description) …':
    `INSERT INTO leads (title, description) VALUES ('Новая квартира ' || $1, 'Две комнаты, ремонт')`,
} as const;
type Statement = keyof typeof STATEMENTS;

/**
 * The variants measured, each set up on the running server before it stops: `bare` (no trigger, no new-rows index),
 * embedsync's capture as migrate installs it (the PL/pgSQL function), a copy of its UPDATE trigger calling the
 * compiled function (the extension embedsync_capture; skipped where the server lacks it), one calling a function
 * that does nothing, the
 * UPDATE trigger of the version before (the comparison in the trigger's WHEN, the function logging unconditionally),
 * and the other designs of the text UPDATE's capture that were weighed against embedsync's (DESIGNS).
 */
const VARIANTS = ['bare', 'embedsync', 'compiled function', 'a trigger that does nothing', 'comparison in WHEN (before)',
  'BEFORE trigger', 'not SECURITY DEFINER', 'log without its statement time', 'comparison in the INSERT',
  'row marked in place of the log'] as const;
type Variant = typeof VARIANTS[number];
const MEASURED: Record<Statement, readonly Variant[]> = {
  'UPDATE leads SET title = … (the text changes)': VARIANTS,
  'UPDATE leads SET title = title (named, unchanged)':
    ['bare', 'embedsync', 'compiled function', 'comparison in WHEN (before)', 'comparison in the INSERT'],
  'UPDATE leads SET status = status + 1 (no document column)': ['bare', 'embedsync'],
  'INSERT INTO leads (title, description) …': ['bare', 'embedsync'],
};

const CHANGED = '(new.id, new.title, new.description) IS DISTINCT FROM (old.id, old.title, old.description)';
const LOG = 'INSERT INTO embedsync.leads_changes (id) VALUES (NEW.id);';
/**
 * Each alternative as a trigger on the document's columns (when, function body, function options) in place of
 * embedsync's. Why each lost (docs/benchmarks.md has the figures):
 * - BEFORE: a user's BEFORE trigger that fires after it could change the text unseen;
 * - not SECURITY DEFINER: every writer of the table would need rights on the change log;
 * - no statement time: the drain could not tell one statement's rows (the lanes) nor a change's age;
 * - the comparison in the INSERT's WHERE: the executor starts for every update that names the columns;
 * - the row marked (its checksum cleared, so the new-rows index holds it) in place of the log: no insert, but
 *   the update changes an indexed column, loses HOT and writes every index of the table.
 */
const DESIGNS: Partial<Record<Variant, readonly [string, string, string]>> = {
  'BEFORE trigger': ['BEFORE', `IF ${CHANGED} THEN ${LOG} END IF; RETURN NEW;`, 'SECURITY DEFINER'],
  'not SECURITY DEFINER': ['AFTER', `IF ${CHANGED} THEN ${LOG} END IF; RETURN NULL;`, ''],
  'log without its statement time': ['AFTER',
    `IF ${CHANGED} THEN INSERT INTO embedsync.bench_changes_id (id) VALUES (NEW.id); END IF; RETURN NULL;`, 'SECURITY DEFINER'],
  'comparison in the INSERT': ['AFTER',
    `INSERT INTO embedsync.leads_changes (id) SELECT NEW.id WHERE ${CHANGED}; RETURN NULL;`, 'SECURITY DEFINER'],
  'row marked in place of the log': ['BEFORE', `IF ${CHANGED} THEN NEW.model_checksum := NULL; END IF; RETURN NEW;`, 'SECURITY DEFINER'],
};

type Reference = Awaited<ReturnType<typeof referenceTriggers>>;

/** `reference`: referenceTriggers's, read once (embedsync's trigger keeps its definition whatever the variant). */
async function setVariant(db: pg.Client, v: Variant, reference: Reference): Promise<void> {
  const { ours, floor, compiled } = reference;
  for (const t of ['bench_floor', 'bench_compiled', 'bench_when', 'bench_design']) await db.query(`DROP TRIGGER IF EXISTS ${t} ON leads`);
  const design = DESIGNS[v];
  if (v === 'a trigger that does nothing' || v === 'compiled function') {
    await captureWith(db, 'leads', ours, v === 'compiled function' ? compiled! : floor);
  } else await setCapture(db, 'leads', v !== 'bare');
  if (v === 'comparison in WHEN (before)') {
    await db.query(`ALTER TABLE leads DISABLE TRIGGER ${ours}`);
    await db.query(`CREATE OR REPLACE FUNCTION bench_log() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      BEGIN ${LOG} RETURN NULL; END $$`);
    await db.query(`CREATE TRIGGER bench_when AFTER UPDATE OF id, title, description ON leads FOR EACH ROW
      WHEN (${CHANGED}) EXECUTE FUNCTION bench_log()`);
  } else if (design) {
    const [when, body, options] = design;
    await db.query(`ALTER TABLE leads DISABLE TRIGGER ${ours}`);
    await db.query('CREATE TABLE IF NOT EXISTS embedsync.bench_changes_id (id bigint)');
    await db.query(`CREATE OR REPLACE FUNCTION bench_design() RETURNS trigger LANGUAGE plpgsql ${options} AS $$
      BEGIN ${body} END $$`);
    await db.query(`CREATE TRIGGER bench_design ${when} UPDATE OF id, title, description ON leads FOR EACH ROW
      EXECUTE FUNCTION bench_design()`);
  }
  await db.query('VACUUM leads');
  await db.query('CHECKPOINT');
}

/** Instructions a single-user backend ran for `script` on a fresh copy of `data`. */
function instructions(dir: string, script: string): number {
  const run = join(dir, 'run');
  rmSync(run, { recursive: true, force: true });
  cpSync(join(dir, 'data'), run, { recursive: true }); // as root, cpSync keeps no owner: give it back below
  if (ROOT) execFileSync('chown', ['-R', 'postgres:', run]);
  const input = openSync(script, 'r');
  try {
    const [cmd, args] = asPostgres('valgrind', ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
      `${PG_BIN}/postgres`, '--single', '-D', run, '-c', 'fsync=off', 'postgres']);
    const r = spawnSync(cmd, args, { stdio: [input, 'ignore', 'pipe'], encoding: 'utf8' });
    const refs = /refs:\s+([0-9,]+)/.exec(r.stderr ?? '');
    if (r.status !== 0 || !refs) throw new Error(`valgrind --tool=callgrind failed (${r.status}): ${(r.stderr ?? '').slice(-500)}`);
    return Number(refs[1]!.replaceAll(',', ''));
  } finally {
    closeSync(input);
  }
}

function script(dir: string, statement: Statement, n: number): string {
  const file = join(dir, `${n}.sql`);
  // setseed: the same random() suffixes (and so the same title lengths) in every run.
  const lines = ['SELECT setseed(0.5);', `PREPARE s(bigint) AS ${STATEMENTS[statement]};`];
  // The same ids in the same order for every variant, spread over the table.
  for (let i = 1; i <= n; i++) lines.push(`EXECUTE s(${(i * 7919) % ROWS + 1});`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Starts the cluster in `dir` (created on the first start); returns its URL (a new port each time). */
const startCluster = (dir: string): string => execFileSync('bash', ['scripts/pg-start.sh', dir]).toString().trim();

/** A clean stop (pg-stop.sh's is immediate, and would leave the copies a crash to recover from). */
function stopCluster(dir: string): void {
  const [cmd, args] = asPostgres(`${PG_BIN}/pg_ctl`, ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']);
  execFileSync(cmd, args, { stdio: 'ignore' });
}

async function main(): Promise<void> {
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    throw new Error('bench:trigger-instructions needs valgrind (apt-get install valgrind)');
  }
  const dir = mkdtempSync('/tmp/embedsync-bench-instructions-');
  if (ROOT) execFileSync('chown', ['postgres:', dir]);
  try {
    let url = startCluster(dir);
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    let reference: Reference;
    try {
      await setup.query('CREATE EXTENSION IF NOT EXISTS vector');
      await setup.query(`CREATE TABLE leads ${LEADS_COLUMNS}`);
      await fillLeads(setup, ROWS);
      await migrateTable(url, 'leads');
      // The steady state: rows embedded by the current model (outside the partial indexes).
      await setup.query('UPDATE leads SET model_checksum = $1, embedded_at = now()', [CHECKSUM]);
      await setup.query('ALTER TABLE leads SET (autovacuum_enabled = off)');
      reference = await referenceTriggers(setup);
    } finally {
      await setup.end();
    }
    console.log(`bench:trigger-instructions — leads of ${ROWS.toLocaleString('en-US')} rows; instructions per statement ` +
      `(single-user backend, ${N} and ${3 * N} statements), and bare ÷ that`);
    if (!reference.compiled) {
      console.log('  (no compiled function: the server lacks the extension embedsync_capture; scripts/setup.sh builds it)');
    }
    for (const [statement, all] of Object.entries(MEASURED) as [Statement, readonly Variant[]][]) {
      const variants = all.filter((v) => v !== 'compiled function' || reference.compiled);
      const counts: Partial<Record<Variant, number>> = {};
      const [fewFile, manyFile] = [script(dir, statement, N), script(dir, statement, 3 * N)];
      for (const v of variants) {
        const db = new pg.Client({ connectionString: url });
        await db.connect();
        await setVariant(db, v, reference).finally(() => db.end());
        stopCluster(dir);
        counts[v] = (instructions(dir, manyFile) - instructions(dir, fewFile)) / (2 * N);
        url = startCluster(dir);
      }
      const bare = counts.bare!;
      const cells = variants.map((v) => v === 'bare'
        ? `bare ${Math.round(bare).toLocaleString('en-US')}`
        : `${v} ${Math.round(counts[v]!).toLocaleString('en-US')} (${((bare / counts[v]!) * 100).toFixed(1)}%)`);
      console.log(`  ${statement}\n    ${cells.join(' | ')}`);
    }
  } finally {
    execFileSync('bash', ['scripts/pg-stop.sh', dir]);
  }
}

await main();
