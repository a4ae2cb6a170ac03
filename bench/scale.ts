// bench:scale — embedsync on a large table (not part of npm test). On a private cluster with
// pg_stat_statements (or DATABASE_URL's server; then without the database CPU figures):
//   1. N leads loaded, `migrate` (its backfill enqueues every row): time; `status` and a queue claim with N pending.
//   2. Backfill through the database path (constant-time clustered encoder, daemons in their own processes):
//      rows/s with 1, 2 and 4 daemons, then 4 drain the rest. Memory of each daemon (RSS after a full GC).
//   3. The ivfflat index built; then 4 daemons (index policy ivfflat) idle: the cheap pass per run and per
//      hour, the rows they read from leads (by scans and through indexes; the run fails if an idle daemon
//      scans leads or reads more than 0.1% of it per hour), `status` from estimates; one full verification
//      round (database CPU seconds, rows read), against the old per-daemon full sweep.
//   4. ivfflat rebuild; search latency p50/p99 at the smallest probes giving recall@10 >= 0.95.
//   5. Backfill through the remote backend against a second embedsync (bench/scale-remote.ts), 1 and 2 daemons,
//      --phase-seconds each, on a table of its own (--remote-rows; 0 skips the phase).
//   --backfill sql writes the vectors by SQL instead of phase 2's daemons (for 10M rows on a small machine).
//   usage: npm run bench:scale [-- --backfill daemons|sql --rows 1000000 --dims 128 --phase-seconds 20 --idle-seconds 60
//          --queries 50 --remote-rows 100000]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { migrate } from '../src/migration/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { installSearchFunctions } from '../src/db/search-functions.ts';
import { ensureIndex, DEFAULT_INDEX_POLICY } from '../src/db/vector-index.ts';
import { queueOps } from '../src/queue/queue.ts';
import { enqueueUnsynced, sweepStep } from '../src/queue/sweep.ts';
import { getSyncStatus } from '../src/sync/status.ts';
import { formatStatus } from '../src/cli/status.ts';
import { remotePhase } from './scale-remote.ts';
import { sqlBackfill } from './scale-sql-backfill.ts';
import { clusterCpuSeconds, flushStats, statementTotals, tableReads } from './scale-stats.ts';
import { clusteredVectors, scaleEncoder } from './scale-vectors.ts';

const { values } = parseArgs({ options: {
  rows: { type: 'string', default: '1000000' },
  dims: { type: 'string', default: '128' },
  'phase-seconds': { type: 'string', default: '20' },
  'idle-seconds': { type: 'string', default: '60' },
  queries: { type: 'string', default: '50' },
  batch: { type: 'string', default: '500' },
  'remote-rows': { type: 'string', default: '100000' },
  backfill: { type: 'string', default: 'daemons' },
} });
const ROWS = Number(values.rows);
const DIMS = Number(values.dims);
const PHASE_S = Number(values['phase-seconds']);
const IDLE_S = Number(values['idle-seconds']);
const QUERIES = Number(values.queries);
const BATCH = values.batch;
const REMOTE_ROWS = Number(values['remote-rows']);
if (values.backfill !== 'daemons' && values.backfill !== 'sql') throw new Error(`--backfill daemons|sql, not ${values.backfill}`);
const SQL_BACKFILL = values.backfill === 'sql';
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const log = (s: string) => console.log(s);

// ---- the cluster: private, with pg_stat_statements, so statement times and CPU can be read --------------
function startCluster(): { url: string; dir: string | undefined } {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, dir: undefined };
  const dir = mkdtempSync('/tmp/embedsync-scale-pg.');
  const url = execFileSync('bash', ['scripts/pg-start.sh', dir]).toString().trim();
  execFileSync('psql', [url, '-qc', "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"]);
  execFileSync('psql', [url, '-qc', "ALTER SYSTEM SET max_wal_size = '4GB'"]);
  execFileSync('bash', ['scripts/pg-stop.sh', dir], { env: { ...process.env, KEEP_PG_DIR: '1' } });
  const port = new URL(url).port;
  execFileSync('bash', ['scripts/pg-start.sh', dir], { env: { ...process.env, PGPORT_OVERRIDE: port } });
  return { url, dir };
}

// ---- daemons in their own processes -----------------------------------------------------------------
interface Daemon { readonly owner: string; readonly child: ChildProcess; readonly rss: { t: number; rss: number }[] }
/** Every daemon the run started, for the memory figures (the idle daemons of 3 are others than the backfill's). */
const everyDaemon: Daemon[] = [];
async function startDaemon(url: string, owner: string, env: Record<string, string>): Promise<Daemon> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/scale-daemon.ts', url, String(DIMS), owner], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const d: Daemon = { owner, child, rss: [] };
  everyDaemon.push(d);
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`daemon ${owner} exited ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') return resolve();
      try { const m = JSON.parse(line) as { t: number; rss: number }; d.rss.push({ t: m.t, rss: m.rss }); } catch { /* not ours */ }
    });
  });
  child.removeAllListeners('exit');
  return d;
}
async function stopDaemon(d: Daemon): Promise<void> {
  const exited = new Promise((r) => d.child.once('exit', r));
  d.child.kill('SIGTERM');
  await exited;
}

async function main(): Promise<void> {
  const started = Date.now();
  const { url: base, dir } = startCluster();
  const dbName = `embedsync_scale_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(base); u.pathname = `/${dbName}`;
  const url = u.toString();
  const db = createPool({ databaseUrl: url, max: 4, statementTimeoutMs: 0 });
  const daemons: Daemon[] = [];
  const failures: string[] = [];
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS vector');
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').catch(() => undefined);
    const postmaster = dir ? Number(readFileSync(`${dir}/data/postmaster.pid`, 'utf8').split('\n')[0]) : undefined;
    log(`embedsync scale benchmark: ${fmt(ROWS)} leads, ${DIMS}-dim vectors, claims of ${BATCH} rows; ${new Date().toISOString()}`);

    // 1. Load, migrate (backfill enqueue), status and claim with everything pending.
    await db.query(`CREATE TABLE leads (id bigserial PRIMARY KEY, title text, description text, city text, price numeric,
      status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now())`);
    let t = performance.now();
    for (let lo = 1; lo <= ROWS; lo += 100_000) {
      await db.query(`INSERT INTO leads (title, description, city, price)
        SELECT 'Квартира ' || g, 'Описание объекта номер ' || g || ', две комнаты, ремонт, этаж ' || (g % 17), 'Москва', g
        FROM generate_series($1::int, $2::int) g`, [lo, Math.min(ROWS, lo + 99_999)]);
    }
    await db.query('VACUUM ANALYZE leads');
    log(`\n1. load ${fmt(ROWS)} rows: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const env = { EMBEDSYNC_TABLE: 'leads', EMBEDSYNC_BATCH_SIZE: BATCH, EMBEDSYNC_LEASE_SECONDS: '60', EMBEDSYNC_INDEX: 'none' };
    const config = loadConfig({ ...env, DATABASE_URL: url });
    const enc = scaleEncoder(DIMS);
    t = performance.now();
    const m = await migrate({ config, model: enc.info });
    log(`   migrate (columns, triggers, sweep index, backfill enqueue of ${fmt(m.enqueued)} rows): ` +
      `${((performance.now() - t) / 1000).toFixed(1)} s`);
    const s = (await inspectSource(db, config.source)).sql;
    await installSearchFunctions(db, s);
    await db.query('ANALYZE embedsync.queue');
    const statusMs: number[] = [];
    let pendingStatus = await getSyncStatus(db, config.source);
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      pendingStatus = await getSyncStatus(db, config.source);
      statusMs.push(performance.now() - t);
    }
    t = performance.now();
    await getSyncStatus(db, config.source, { exact: true });
    const exactMs = performance.now() - t;
    const ops = queueOps(db, s, 0);
    const claimMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      t = performance.now();
      const rows = await ops.claim(Number(BATCH), 'bench', 60);
      claimMs.push(performance.now() - t);
      await ops.release(rows.map((r) => r.id), 'bench', 0);
    }
    log(`   status with ${fmt(ROWS)} pending: ${statusMs.map((x) => fmt(x, 1)).join(' / ')} ms ` +
      `(3 runs, ${pendingStatus.rows.estimated ? 'estimated' : 'counted'}); status --exact ${fmt(exactMs)} ms`);
    log(`   claim of ${BATCH} rows with ${fmt(ROWS)} pending: p50 ${claimMs.length ? pct(claimMs, 0.5).toFixed(1) : '-'} ms, ` +
      `p99 ${pct(claimMs, 0.99).toFixed(1)} ms (20 claims, each released)`);

    // 2. Backfill with 1, 2, 4 daemons. Verification effectively off here (a 1000-hour period); the cheap
    // pass every 5 s, so the idle phase below sees enough of its runs.
    const denv = {
      ...env,
      EMBEDSYNC_SWEEP_INTERVAL_MS: '5000',
      EMBEDSYNC_VERIFY_PERIOD_HOURS: '1000',
      EMBEDSYNC_WORKERS: '2',
      EMBEDSYNC_POLL_INTERVAL_MS: '2000',
    };
    const queued = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue')).rows[0]!.n;
    log(`\n2. backfill through the database path (each daemon a process, EMBEDSYNC_WORKERS=2)`);
    const rates: string[] = [];
    if (SQL_BACKFILL) rates.push(`none (--backfill sql: ${fmt(await sqlBackfill(db, s, DIMS, enc.info.checksum, ROWS, log))} rows/s)`);
    for (const n of SQL_BACKFILL ? [] : [1, 2, 4]) {
      while (daemons.length < n) daemons.push(await startDaemon(url, `d${daemons.length + 1}`, denv));
      const before = await queued();
      const cpu0 = clusterCpuSeconds(postmaster);
      t = performance.now();
      if (before === 0) continue;
      if (n < 4) await sleep(PHASE_S * 1000);
      // Whether anything is left, not how much: counting 1M queued rows every 250 ms would load the database.
      else while ((await db.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM embedsync.queue) AS any')).rows[0]!.any) await sleep(250);
      const secs = (performance.now() - t) / 1000;
      const done = before - await queued();
      const rate = done / secs;
      rates.push(`${n}: ${fmt(rate)}`);
      log(`   ${n} daemon${n > 1 ? 's' : ' '}: ${fmt(done)} rows in ${secs.toFixed(1)} s = ${fmt(rate)} rows/s; ` +
        `database CPU ${fmt((clusterCpuSeconds(postmaster) - cpu0) / secs, 2)} cores`);
    }
    const current = (await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM leads WHERE model_checksum = $1 AND embedding IS NOT NULL',
      [enc.info.checksum],
    )).rows[0]!.n;
    if (current !== ROWS) throw new Error(`backfill ended with ${current} of ${ROWS} rows embedded`);

    // 3. The index built (what a daemon with the default policy does once the backfill is done), then 4 idle
    // daemons with that policy: everything the cluster does in IDLE_S, the cheap pass's own share, and the
    // rows they read from leads. The window runs from before the daemons start until they have stopped (their
    // sessions flush their statistics as they end), so nothing they read escapes it.
    for (const d of daemons.splice(0)) await stopDaemon(d);
    await db.query('VACUUM ANALYZE leads');
    const policy = { ...DEFAULT_INDEX_POLICY, kind: 'ivfflat' as const, maintenanceWorkMem: '1GB' };
    const ic = await db.connect();
    const built = await ensureIndex(ic, s, 'embedding', policy, { dimensions: DIMS }).finally(() => ic.release());
    const idleStatusMs: number[] = [];
    let idleStatus = await getSyncStatus(db, config.source);
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      idleStatus = await getSyncStatus(db, config.source);
      idleStatusMs.push(performance.now() - t);
    }
    await flushStats(db, 4);
    await db.query('SELECT pg_stat_statements_reset()').catch(() => undefined);
    const reads0 = await tableReads(db);
    const idleEnv = { ...denv, EMBEDSYNC_INDEX: 'ivfflat', EMBEDSYNC_INDEX_BUILD_MEMORY: '1GB' };
    t = performance.now();
    for (let i = 1; i <= 4; i++) daemons.push(await startDaemon(url, `i${i}`, idleEnv));
    const cpu0 = clusterCpuSeconds(postmaster);
    await sleep(IDLE_S * 1000);
    const idleCpu = clusterCpuSeconds(postmaster) - cpu0;
    for (const d of daemons.splice(0)) await stopDaemon(d);
    const windowS = (performance.now() - t) / 1000;
    const reads1 = await tableReads(db);
    const cheap = await statementTotals(db, '%The frequent, cheap sweep pass%');
    const estimates = await statementTotals(db, '%What the database already knows about the rows with a vector%');
    const counts = await statementTotals(db, '%Rows with a vector in%');
    const idleScans = reads1.scans - reads0.scans;
    const idleRead = reads1.seq - reads0.seq + reads1.idx - reads0.idx;
    const verifiedRows = reads1.verified - reads0.verified;
    const perHour = Math.max(0, idleRead - verifiedRows) * 3600 / windowS;
    log(`\n3. ivfflat (lists ${built.lists}) built on ${fmt(built.rows)} rows: ${built.buildSeconds?.toFixed(1)} s; ` +
      `status after it: ${idleStatusMs.map((x) => fmt(x, 1)).join(' / ')} ms ` +
      `(${idleStatus.rows.estimated ? 'estimated' : 'counted'}): ` +
      `${formatStatus(idleStatus).split('\n').find((l) => l.startsWith('rows'))}`);
    log(`   4 daemons idle for ${IDLE_S} s (index policy ivfflat, cheap pass every 5 s per table; ` +
      `window with their start and stop ${windowS.toFixed(0)} s)`);
    log(`   cheap pass: ${cheap.calls} runs in ${IDLE_S} s (not ${4 * IDLE_S / 5}: once per table), ` +
      `${(cheap.ms / Math.max(1, cheap.calls)).toFixed(2)} ms each; ` +
      `at the default once a minute: ${(cheap.ms / Math.max(1, cheap.calls) * 60 / 1000).toFixed(3)} s of database time per hour`);
    log(`   index policy: ${estimates.calls} checks from the statistics and the stored count ` +
      `(${(estimates.ms / Math.max(1, estimates.calls)).toFixed(2)} ms each), ${counts.calls} exact counts`);
    log(`   whole cluster while idle: ${idleCpu.toFixed(2)} CPU s in ${IDLE_S} s (polls, gauges, sweeps); ` +
      `leads: ${idleScans} sequential scans, rows read ${fmt(reads1.seq - reads0.seq)} by scans, ` +
      `${fmt(reads1.idx - reads0.idx)} through indexes (${fmt(verifiedRows)} of them by verification): ` +
      `${fmt(perHour)} rows per hour outside verification = ` +
      `${(100 * perHour / ROWS).toFixed(4)}% of the table (limit 0.1%)`);
    if (idleScans > 0) failures.push(`idle daemons ran ${idleScans} sequential scans of leads (${fmt(reads1.seq - reads0.seq)} rows)`);
    if (perHour > 0.001 * ROWS) {
      failures.push(`idle daemons read ${fmt(perHour)} rows of leads per hour outside verification, more than 0.1% of ${fmt(ROWS)}`);
    }
    // One full verification round at full speed (what the default spreads over 24 hours), with the daemons
    // stopped: their own verification pacing would otherwise take the pass and push its next step hours out.
    await db.query('SELECT pg_stat_statements_reset()').catch(() => undefined);
    await flushStats(db, 4);
    const r0 = await tableReads(db);
    const c0 = clusterCpuSeconds(postmaster);
    await db.query(`UPDATE embedsync.sweep SET due_at = now(), position = NULL, round_started_at = NULL WHERE pass = 'verify'`);
    t = performance.now();
    let verified = 0, steps = 0;
    for (;;) {
      const st = await sweepStep(db, s, 'verify', enc.info.checksum, {
        changedEveryMs: 60_000,
        verifyPeriodMs: 1,
        verifyMaxRowsPerSecond: 1e9,
        verifyChunkRows: 1000,
      });
      if (!st.ran) { await sleep(1); continue; }
      verified += st.scanned; steps++;
      if (st.finished) break;
    }
    const roundS = (performance.now() - t) / 1000, roundCpu = clusterCpuSeconds(postmaster) - c0;
    await flushStats(db, 4);
    const r1 = await tableReads(db);
    const chunks = await statementTotals(db, '%One chunk of the reconciliation sweep%');
    log(`   one verification round: ${fmt(verified)} rows in ${steps} chunks of 1,000, ${roundS.toFixed(1)} s, ` +
      `database CPU ${roundCpu.toFixed(1)} s ` +
      `(chunk statements ${(chunks.ms / 1000).toFixed(1)} s), ` +
      `rows read ${fmt(r1.seq - r0.seq + r1.idx - r0.idx)}; spread over 24 h: ${(roundCpu / 24).toFixed(2)} CPU s per hour`);
    t = performance.now();
    const c1 = clusterCpuSeconds(postmaster);
    await enqueueUnsynced(db, s, enc.info.checksum);
    const oldS = (performance.now() - t) / 1000, oldCpu = clusterCpuSeconds(postmaster) - c1;
    log(`   before (every daemon swept the whole table every minute): one sweep ${oldS.toFixed(1)} s, ${oldCpu.toFixed(1)} CPU s; ` +
      `x 4 daemons x 60/h = ${fmt(oldCpu * 240)} CPU s per hour`);

    // Memory of each daemon over the run (RSS after a full collection, MB): first 10 s, middle, last 10 s.
    log(`\n   daemon memory, RSS after a full GC (MB): start / middle / end over the run`);
    for (const d of everyDaemon) {
      const mb = (xs: { rss: number }[]) => xs.length ? fmt(xs.reduce((a, x) => a + x.rss, 0) / xs.length / 2 ** 20, 1) : '-';
      const n = d.rss.length;
      log(`   ${d.owner}: ${mb(d.rss.slice(2, 12))} / ${mb(d.rss.slice(Math.floor(n / 2) - 5, Math.floor(n / 2) + 5))} / ` +
        `${mb(d.rss.slice(-10))}  (${n} readings)`);
    }

    // 4. ivfflat rebuild (the build is in 3), search latency and recall.
    const client = await db.connect();
    try {
      const rebuilt = await ensureIndex(client, s, 'embedding', policy, { dimensions: DIMS, force: true });
      log(`\n4. ivfflat (lists ${built.lists}): build ${built.buildSeconds?.toFixed(1)} s, ` +
        `rebuild (concurrently, then swapped) ${rebuilt.buildSeconds?.toFixed(1)} s`);
    } finally {
      client.release();
    }
    const vectorOf = clusteredVectors(DIMS);
    const queries = Array.from({ length: QUERIES }, (_, i) => `[${Array.from(vectorOf(`query text number ${i}`)).join(',')}]`);
    const search = 'SELECT id FROM embedsync.leads_search($1::vector, 10)';
    const exact: Set<string>[] = [];
    const qc = await db.connect();
    try {
      await qc.query('SET enable_indexscan = off');
      for (const q of queries) exact.push(new Set((await qc.query<{ id: string }>(search, [q])).rows.map((r) => r.id)));
      await qc.query('RESET enable_indexscan');
      for (const probes of [1, 2, 4, 8, 16, 32, 64, 128]) {
        await qc.query(`SET ivfflat.probes = ${probes}`);
        const ms: number[] = [];
        let hits = 0;
        for (let i = 0; i < queries.length; i++) {
          t = performance.now();
          const got = (await qc.query<{ id: string }>(search, [queries[i]])).rows.map((r) => r.id);
          ms.push(performance.now() - t);
          hits += got.filter((id) => exact[i]!.has(id)).length;
        }
        const recall = hits / (10 * queries.length);
        log(`   probes ${String(probes).padStart(3)}: recall@10 ${recall.toFixed(3)}, ` +
          `p50 ${pct(ms, 0.5).toFixed(1)} ms, p99 ${pct(ms, 0.99).toFixed(1)} ms`);
        if (recall >= 0.95) break;
      }
    } finally {
      qc.release();
    }
    const remoteRates = REMOTE_ROWS > 0 ? await remotePhase({
      db, url, rows: REMOTE_ROWS, phaseSeconds: PHASE_S, daemonEnv: denv, log,
      startDaemon: async (owner, e) => { const d = await startDaemon(url, owner, e); daemons.push(d); return d; }, stopDaemon,
    }) : [];
    if (failures.length > 0) throw new Error(`idle cost over its limit:\n  ${failures.join('\n  ')}`);
    log(`\nbackfill rows/s by daemons: ${rates.join(', ')}` +
      `${remoteRates.length ? `; through the remote backend: ${remoteRates.join(', ')}` : ''}` +
      `; total ${((Date.now() - started) / 60_000).toFixed(1)} min`);
  } finally {
    for (const d of everyDaemon) if (d.child.exitCode === null) d.child.kill('SIGKILL');
    await db.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    if (dir) execFileSync('bash', ['scripts/pg-stop.sh', dir]);
  }
}

await main();
