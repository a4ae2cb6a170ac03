// `npm run chaos`: proves every embedding stays correct while things go wrong. On a throwaway cluster with
// CHAOS_ROWS leads, a writer changes rows continuously while two `embedsync run --no-http` daemons keep up;
// meanwhile a random daemon is killed with SIGKILL CHAOS_KILLS times (and restarted), Postgres is restarted
// once (pg_ctl restart -m fast) and the listener connections are terminated once (pg_terminate_backend).
// After the writer stops and the queue drains, every row is checked against a fresh encode of its current
// document. Prints one summary line; exits 1 when any row is wrong or any check failed.
//   CHAOS_ROWS=20000 CHAOS_KILLS=20 CHAOS_WRITER_SECONDS=120 CHAOS_WRITER_PAUSE_MS=8 CHAOS_SEED=<n> CHAOS_KEEP=1 (keep the cluster dir)
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { migrate } from '../src/migration/migrate.ts';
import { createEncoder } from '../src/encoder/index.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { TINY_MODEL_DIR } from '../test/support/tiny-model-dir.ts';
import { prng } from '../src/model/prng.ts';
import { killAll, sleep, spawnCli, startCluster, type CliProcess } from './chaos-procs.ts';
import { runWriter, seedLeads } from './chaos-writer.ts';
import { verifyRows } from './chaos-verify.ts';

const num = (name: string, fallback: number): number => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? fallback : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${v}`);
  return n;
};
const ROWS = num('CHAOS_ROWS', 20_000);
const KILLS = num('CHAOS_KILLS', 20);
const WRITER_MS = num('CHAOS_WRITER_SECONDS', 120) * 1000;
const DRAIN_TIMEOUT_MS = num('CHAOS_DRAIN_TIMEOUT_SECONDS', 600) * 1000;
const SEED = num('CHAOS_SEED', Math.floor(Math.random() * 1e9));
/** Longest pause between the writer's statements (ms): sets how hard it writes. */
const WRITER_PAUSE_MS = num('CHAOS_WRITER_PAUSE_MS', 8);
const LISTENER_APP = 'embedsync-listener';

const started = Date.now();
const rnd = prng(SEED);
const problems: string[] = [];
const say = (line: string) => process.stderr.write(`[chaos ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);

const cluster = await startCluster();
const procs = new Set<CliProcess>();
const cleanup = async () => {
  killAll(procs);
  if (process.env.CHAOS_KEEP === '1') say(`cluster kept in ${cluster.dir}`);
  else await cluster.stop();
};
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });

try {
  await main();
} catch (err) {
  problems.push(`harness failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  await cleanup();
}
if (problems.length) {
  for (const p of problems) process.stderr.write(`chaos problem: ${p}\n`);
  process.exitCode = 1;
}

async function main(): Promise<void> {
  const env = {
    DATABASE_URL: cluster.url,
    EMBEDDING_MODEL: TINY_MODEL_DIR,
    EMBEDDING_THREADS: '1',
    LOG_LEVEL: 'info',
    // Short leases so a killed daemon's batch comes back quickly; the sweep is pushed out of the way so the
    // triggers and the queue alone have to get every row right.
    EMBEDSYNC_LEASE_SECONDS: '5',
    EMBEDSYNC_POLL_INTERVAL_MS: '1000',
    EMBEDSYNC_SWEEP_INTERVAL_MS: '86400000',
    EMBEDSYNC_BATCH_SIZE: '64',
  };
  const db = new pg.Pool({ connectionString: cluster.url, max: 4, application_name: 'chaos-harness' });
  db.on('error', () => undefined);
  let stopWriter: AbortController | undefined;
  let encoder: Encoder | undefined;
  try {
    await db.query(`CREATE TABLE leads (
      id bigserial PRIMARY KEY, title text, description text, city text, price numeric,
      status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now())`);
    await seedLeads(db, ROWS);
    // Loaded once here: migrate needs the model's identity, and the final check encodes every document afresh.
    encoder = await createEncoder(loadConfig({ EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '2' }).model);
    await migrate({ config: loadConfig(env), model: encoder.info });
    say(`seeded and migrated ${ROWS} rows (seed ${SEED}); starting two daemons and the writer`);

    let daemonSeq = 0;
    const crashes: string[] = [];
    const killed = new WeakSet<CliProcess>();
    const ready = new WeakSet<CliProcess>();
    const spawnDaemon = (): CliProcess => {
      const name = `daemon-${++daemonSeq}`;
      const p = spawnCli({
        name, args: ['run', '--no-http'], env, logFile: join(cluster.dir, `${name}.log`), readyText: '"event":"sync_started"',
      });
      procs.add(p);
      void p.ready.then(() => ready.add(p), () => undefined);
      void p.exited.then(({ code, signal }) => {
        procs.delete(p);
        if (!killed.has(p)) crashes.push(`${name} exited on its own (${code ?? signal}); see ${cluster.dir}/${name}.log`);
      });
      return p;
    };
    // The writer starts while the daemons load their model: changes pile up in the queue meanwhile, as they
    // would during a deploy. Kills wait for a daemon that is up.
    const daemons = [spawnDaemon(), spawnDaemon()];

    const maxId = Number((await db.query<{ m: string }>('SELECT max(id) AS m FROM leads')).rows[0]!.m);
    stopWriter = new AbortController();
    const writerStats = runWriter(db, rnd, stopWriter.signal, maxId, WRITER_PAUSE_MS);

    // The fault plan: kill moments spread at random over the writer's run, the restart and the listener drop
    // among them.
    type Fault = { at: number; kind: 'kill' | 'restart' | 'listener' };
    const faults: Fault[] = [
      ...Array.from({ length: KILLS }, () => ({ at: WRITER_MS * (0.05 + 0.85 * rnd()), kind: 'kill' as const })),
      { at: WRITER_MS * (0.3 + 0.3 * rnd()), kind: 'restart' as const },
      { at: WRITER_MS * (0.1 + 0.8 * rnd()), kind: 'listener' as const },
    ].sort((a, b) => a.at - b.at);

    const writerStart = Date.now();
    let lastFaultAt = writerStart;
    const replacements: Promise<boolean>[] = [];
    const restartChecks: boolean[] = [];
    for (const f of faults) {
      const wait = writerStart + f.at - Date.now();
      if (wait > 0) await sleep(wait);
      if (f.kind === 'kill') {
        // A daemon that is up (one still loading its model is not a meaningful victim): wait for one if needed.
        let up: number[] = [];
        for (const until = Date.now() + 60_000; Date.now() < until; await sleep(50)) {
          up = daemons.map((_, i) => i).filter((i) => ready.has(daemons[i]!) && daemons[i]!.alive);
          if (up.length) break;
        }
        const i = up.length ? up[Math.floor(rnd() * up.length)]! : Math.floor(rnd() * daemons.length);
        const victim = daemons[i]!;
        killed.add(victim);
        victim.child.kill('SIGKILL');
        await victim.exited;
        const next = spawnDaemon();
        daemons[i] = next;
        replacements.push(withTimeout(next.ready.then(() => true), 120_000, false));
      } else if (f.kind === 'restart') {
        say('restarting postgres (pg_ctl restart -m fast)');
        await cluster.restart();
        // Checked before the next fault: a kill meanwhile would take a listener away for reasons of its own.
        restartChecks.push(await listenersBack(db, daemons, new Set(), 'after the postgres restart'));
      } else {
        // Drop the listeners of running daemons: wait (briefly) until there are some to drop.
        for (const until = Date.now() + 30_000; Date.now() < until; await sleep(100)) {
          const n = await db.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [LISTENER_APP]).catch(() => null);
          if (n?.rowCount) break;
        }
        const r = await db.query<{ pid: number }>(
          // OFFSET 0 keeps the filter apart from the call: in one WHERE, Postgres may evaluate
          // pg_terminate_backend first and end every backend, this one included.
          `SELECT pid FROM (SELECT pid FROM pg_stat_activity WHERE application_name = $1 OFFSET 0) l ` +
          `WHERE pg_terminate_backend(pid)`, [LISTENER_APP]);
        say(`terminated ${r.rowCount} listener connection(s)`);
        if (!r.rowCount) problems.push('no listener connection found by application_name to terminate');
        restartChecks.push(await listenersBack(db, daemons, new Set(r.rows.map((x) => x.pid)), 'after pg_terminate_backend'));
      }
      lastFaultAt = Date.now();
    }
    const remaining = writerStart + WRITER_MS - Date.now();
    if (remaining > 0) await sleep(remaining);
    stopWriter.abort();
    const ws = await writerStats;
    const writerStoppedAt = Date.now();
    say(`writer stopped: ${ws.ops} statements, ${ws.inserted} inserted, ${ws.textUpdates} text updates, ` +
      `${ws.otherUpdates} other updates, ${ws.deleted} deleted, ${ws.errors} failed (restart)`);

    const killsSurvived = (await Promise.all(replacements)).filter(Boolean).length;
    const restartsSurvived = restartChecks.filter(Boolean).length;

    // Drain: the change log and the queue empty (no pending rows, no leases) and no row without a vector's checksum
    // outside the dead letters: new rows wait in the new-rows index, and edits in the change log, until a daemon's
    // watch queues them.
    const drainStart = Date.now();
    let drainedAt = 0;
    while (Date.now() - drainStart < DRAIN_TIMEOUT_MS) {
      const q = await db.query<{ n: number }>('SELECT ((SELECT count(*) FROM embedsync.queue) + ' +
        '(SELECT count(*) FROM embedsync.leads_changes) + ' +
        `(SELECT count(*) FROM leads t WHERE t.model_checksum IS NULL
        AND NOT EXISTS (SELECT 1 FROM embedsync.deadletter x WHERE x.id = t.id::text)))::int AS n`).catch(() => ({ rows: [{ n: -1 }] }));
      if (q.rows[0]!.n === 0) { drainedAt = Date.now(); break; }
      await sleep(100);
    }
    if (!drainedAt) problems.push(`change log, queue and new rows not drained within ${DRAIN_TIMEOUT_MS / 1000} s`);

    // Both daemons stop cleanly on SIGTERM.
    for (const d of daemons) killed.add(d);
    const exits = await Promise.all(daemons.map(async (d) => {
      d.child.kill('SIGTERM');
      return withTimeout(d.exited, 20_000, { code: -1, signal: null });
    }));
    for (const [i, e] of exits.entries()) {
      if (e.code !== 0) problems.push(`${daemons[i]!.name} did not exit 0 on SIGTERM (${e.code ?? e.signal})`);
    }
    problems.push(...crashes);

    const v = await verifyRows(db, encoder, ws.deletedIds);
    problems.push(...v.problems);
    const sinceFault = drainedAt ? ((drainedAt - lastFaultAt) / 1000).toFixed(1) : 'n/a';
    const sinceWriter = drainedAt ? ((drainedAt - writerStoppedAt) / 1000).toFixed(1) : 'n/a';
    process.stdout.write(
      `chaos: kills survived ${killsSurvived}/${KILLS}, restarts survived ${restartsSurvived}/2 (postgres restart, listener drop), ` +
      `rows checked ${v.checked}, rows wrong ${v.wrong}, max drain time after the last fault ${sinceFault} s ` +
      `(${sinceWriter} s after the writer stopped; seed ${SEED}, ${((Date.now() - started) / 1000).toFixed(0)} s total)\n`);
    if (killsSurvived !== KILLS) problems.push(`${KILLS - killsSurvived} restarted daemon(s) never came up`);
    if (restartsSurvived !== 2) problems.push('listeners did not come back after a restart or drop');
  } finally {
    stopWriter?.abort();
    await encoder?.close();
    await db.end().catch(() => undefined);
  }
}

/** True once every running daemon has its listener connection back (none of them a terminated one). */
async function listenersBack(db: pg.Pool, daemons: readonly CliProcess[], gone: ReadonlySet<number>, when: string): Promise<boolean> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const r = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [LISTENER_APP])
      .catch(() => null);
    const running = daemons.filter((d) => d.alive).length;
    if (r && running > 0 && r.rows.filter((x) => !gone.has(x.pid)).length >= running) return true;
    await sleep(200);
  }
  problems.push(`listener connections did not come back within 60 s ${when}`);
  return false;
}

function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => { t = setTimeout(() => resolve(fallback), ms); });
  return Promise.race([p.catch(() => fallback), timeout]).finally(() => clearTimeout(t));
}
