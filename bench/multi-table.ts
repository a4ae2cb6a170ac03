// bench:multitable — one `embedsync run` serving three tables on one model against the same process serving
// one table: peak RSS of the process (the target: three tables ≤ 1.1 × one, the model loaded once) and rows/s
// per table while each table works off a backlog. Prints figures; does not fail on targets.
//   usage: npm run bench:multitable [-- --rows 1500] [--layers 12 | --model DIR --dtype int8]
// Without --layers or --model it runs on the bundled tiny test model, whose memory is mostly Node's own.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { importModel } from '../src/model/import-checkpoint.ts';
import { writeShapedCheckpoint } from '../test/support/shaped-checkpoint.ts';
import { TINY_MODEL_DIR } from '../test/support/tiny-model-dir.ts';
import { withBenchDatabase } from './bench-database.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1500' },
    layers: { type: 'string' },
    model: { type: 'string' },
    dtype: { type: 'string' },
  },
});
const TABLES = ['leads', 'notes', 'tickets'] as const;

function rssOf(pid: number): { rss: number; hwm: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1000, hwm: Number(/VmHWM:\s+(\d+)/.exec(s)![1]) / 1000 };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

async function modelDir(): Promise<{ dir: string; dtype: string }> {
  if (values.model) return { dir: resolve(values.model), dtype: values.dtype ?? 'fp32' };
  if (!values.layers) return { dir: TINY_MODEL_DIR, dtype: 'fp32' };
  const layers = Number(values.layers);
  const dir = resolve(ROOT, layers === 24 ? 'models/rosberta-shape' : `models/rosberta-shape-${layers}`);
  if (!existsSync(join(dir, 'onnx/model_quantized.onnx'))) {
    if (!existsSync(join(dir, 'model.safetensors'))) writeShapedCheckpoint(dir, { layers });
    await importModel(dir, { quantize: 'int8' });
  }
  return { dir, dtype: 'int8' };
}

interface Phase {
  readonly tables: number;
  readonly peakMb: number;
  readonly rowsPerSecond: readonly number[];
  readonly seconds: number;
  /** CPU time the process used (all its threads): rows per CPU second does not move with other load on the machine. */
  readonly cpuSeconds: number;
}

/** User + system CPU seconds of process `pid`, its threads included (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** `embedsync run` serving the first `n` tables, each with a backlog of `rows`, until every row has its vector. */
async function phase(n: number, rows: number, model: { dir: string; dtype: string }): Promise<Phase> {
  return withBenchDatabase(async (url) => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => undefined); // the database is dropped under it when a phase fails
    // The one-table run reads its columns from the environment; the three-table run from what migrate recorded.
    const env = {
      ...process.env, DATABASE_URL: url, EMBEDDING_MODEL: model.dir, EMBEDDING_DTYPE: model.dtype, LOG_LEVEL: 'warn',
      CACHE_ENABLED: 'false', EMBEDSYNC_TEXT_COLUMNS: 'title,body',
    };
    const served = TABLES.slice(0, n);
    for (const t of served) {
      await pool.query(`CREATE TABLE ${t} (id bigserial PRIMARY KEY, title text, body text)`);
      await pool.query(`INSERT INTO ${t} (title, body) SELECT '${t} ' || g, 'row ' || g || ' of a backlog, with some words to encode' ` +
        'FROM generate_series(1, $1::int) g', [rows]);
      execFileSync(process.execPath, [join(ROOT, 'bin/embedsync.js'), 'migrate'], {
        env: { ...env, EMBEDSYNC_TABLE: t }, stdio: ['ignore', 'ignore', 'inherit'],
      });
    }
    const started = performance.now();
    const run = spawn(process.execPath, [join(ROOT, 'bin/embedsync.js'), 'run', '--no-http'],
      { env: { ...env, EMBEDSYNC_TABLE: n === 1 ? served[0] : '*' }, stdio: ['ignore', 'inherit', 'inherit'] });
    const exited = once(run, 'exit');
    let exitCode: number | null | undefined;
    void exited.then(([code]) => { exitCode = code as number | null; });
    let peak = 0;
    const timer = setInterval(() => { peak = Math.max(peak, rssOf(run.pid!).rss); }, 100);
    const doneAt: number[] = [];
    const left = async (t: string) =>
      (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} WHERE embedding IS NULL`)).rows[0]!.n;
    while (doneAt.filter((x) => x > 0).length < n) {
      if (exitCode !== undefined) throw new Error(`embedsync run exited (${exitCode}) before the backlog was done`);
      for (const [i, t] of served.entries()) if (!doneAt[i] && (await left(t)) === 0) doneAt[i] = performance.now();
      await new Promise((r) => setTimeout(r, 100));
    }
    peak = Math.max(peak, rssOf(run.pid!).hwm);
    const cpuSeconds = cpuOf(run.pid!);
    clearInterval(timer);
    run.kill('SIGTERM');
    await exited;
    await pool.end();
    return {
      tables: n, peakMb: peak, rowsPerSecond: doneAt.map((d) => rows / ((d - started) / 1000)),
      seconds: (Math.max(...doneAt) - started) / 1000, cpuSeconds,
    };
  });
}

async function main(): Promise<void> {
  const rows = Number(values.rows);
  const model = await modelDir();
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(`bench:multitable — model ${model.dir} (${model.dtype}), ${rows} backlog rows per table, embedsync run --no-http`);
  const one = await phase(1, rows, model);
  const three = await phase(3, rows, model);
  const line = (p: Phase) => log(`  ${p.tables} table${p.tables > 1 ? 's' : ' '} in one process: ` +
    `peak RSS ${p.peakMb.toFixed(0).padStart(5)} MB; ` +
    `all rows in ${p.seconds.toFixed(1)} s, ${p.cpuSeconds.toFixed(1)} CPU s ` +
    `(${(p.tables * rows / p.cpuSeconds).toFixed(1)} rows per CPU s, model load included); ` +
    `rows/s per table (start to its last row) ${p.rowsPerSecond.map((r) => r.toFixed(0)).join(', ')}`);
  line(one);
  line(three);
  log(`  peak RSS three tables / one table: ${(three.peakMb / one.peakMb).toFixed(2)} (target ≤ 1.10)`);
}

await main();
