// bench:startup — what the process costs before it does any work: `embedsync --version` (wall time, peak RSS)
// and `embedsync run` on the bundled test model (to /ready answering 200, to the first vector written for a row
// queued while it was down, RSS at that point), for the compiled CLI (node bin/embedsync.js, dist/) against the
// TypeScript sources through tsx (node --import tsx src/main.ts, what development runs), alternating, in one run.
// Prints medians; does not fail on targets.
//   usage: npm run bench:startup [-- --rounds 5]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { TINY_MODEL_DIR } from '../test/support/tiny-model-dir.ts';
import { freePort } from '../scripts/free-port.ts';
import { withBenchDatabase } from './bench-database.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = Number(values.rounds);

const LAUNCHERS = {
  compiled: [join(ROOT, 'bin/embedsync.js')],
  tsx: ['--import', 'tsx', join(ROOT, 'src/main.ts')],
} as const;
type Launcher = keyof typeof LAUNCHERS;

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Wall seconds and peak RSS (MB) of one `--version`, through GNU time (the child's own maximum resident set). */
function version(launcher: Launcher): { seconds: number; mb: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, ...LAUNCHERS[launcher], '--version'],
    { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`--version failed: ${r.stderr}`);
  const [seconds, kb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: seconds!, mb: kb! / 1024 };
}

function rssMb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  } catch {
    return 0;
  }
}

interface Start { readonly readyS: number; readonly vectorS: number; readonly mb: number }

/** Queues one row with the daemon down, starts `run`, and times /ready and that row's vector. */
async function start(launcher: Launcher, url: string, pool: pg.Pool, round: number): Promise<Start> {
  const id = (await pool.query<{ id: number }>(
    `INSERT INTO leads (title, description) VALUES ($1, 'a lead queued while the daemon was down') RETURNING id`,
    [`lead ${launcher} ${round}`])).rows[0]!.id;
  const port = await freePort();
  const env = {
    ...process.env, DATABASE_URL: url, EMBEDDING_MODEL: TINY_MODEL_DIR, LOG_LEVEL: 'warn', PORT: String(port), HOST: '127.0.0.1',
  };
  const t0 = performance.now();
  const child = spawn(process.execPath, [...LAUNCHERS[launcher], 'run'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = once(child, 'exit');
  let readyS = 0;
  let vectorS = 0;
  let mb = 0;
  try {
    while (!readyS || !vectorS) {
      if (child.exitCode !== null) throw new Error(`embedsync run exited (${child.exitCode}) while starting`);
      const now = () => (performance.now() - t0) / 1000;
      if (!readyS) {
        const ok = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false);
        if (ok) readyS = now();
      }
      if (!vectorS) {
        const done = (await pool.query<{ done: boolean }>('SELECT embedding IS NOT NULL AS done FROM leads WHERE id = $1', [id]))
          .rows[0]!.done;
        if (done) vectorS = now();
      }
      mb = Math.max(mb, rssMb(child.pid!));
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return { readyS, vectorS, mb };
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/main.js'))) throw new Error('dist/main.js is missing: npm run build');
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(`bench:startup — ${ROUNDS} rounds each, alternating; test model ${TINY_MODEL_DIR}`);
  const versions: Record<Launcher, { seconds: number; mb: number }[]> = { compiled: [], tsx: [] };
  for (let i = 0; i < ROUNDS; i++) for (const l of Object.keys(LAUNCHERS) as Launcher[]) versions[l].push(version(l));
  await withBenchDatabase(async (url) => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => undefined); // the database is dropped under it when a round fails
    await pool.query('CREATE TABLE leads (id bigserial PRIMARY KEY, title text, description text)');
    execFileSync(process.execPath, [...LAUNCHERS.compiled, 'migrate'], {
      cwd: ROOT, env: { ...process.env, DATABASE_URL: url, EMBEDDING_MODEL: TINY_MODEL_DIR, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const starts: Record<Launcher, Start[]> = { compiled: [], tsx: [] };
    for (let i = 0; i < ROUNDS; i++) for (const l of Object.keys(LAUNCHERS) as Launcher[]) starts[l].push(await start(l, url, pool, i));
    await pool.end();
    for (const l of Object.keys(LAUNCHERS) as Launcher[]) {
      const v = versions[l];
      const s = starts[l];
      log(`  ${l.padEnd(8)} --version ${median(v.map((x) => x.seconds)).toFixed(2)} s, ` +
        `${median(v.map((x) => x.mb)).toFixed(0)} MB peak RSS; ` +
        `run: /ready after ${median(s.map((x) => x.readyS)).toFixed(2)} s, ` +
        `first vector after ${median(s.map((x) => x.vectorS)).toFixed(2)} s, ` +
        `${median(s.map((x) => x.mb)).toFixed(0)} MB peak RSS by then`);
    }
    const ratio = (f: (l: Launcher) => number) => (f('compiled') / f('tsx')).toFixed(2);
    log(`  compiled / tsx: --version time ${ratio((l) => median(versions[l].map((x) => x.seconds)))}, ` +
      `RSS ${ratio((l) => median(versions[l].map((x) => x.mb)))}; ` +
      `run to first vector ${ratio((l) => median(starts[l].map((x) => x.vectorS)))}, ` +
      `RSS ${ratio((l) => median(starts[l].map((x) => x.mb)))}`);
  });
}

await main();
