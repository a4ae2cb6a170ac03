// The daemon's memory while the bad-input corpus (1 MB and 10 MB texts included) streams through it 10 times:
// a daemon child process (`embedsync run --no-http`), its resident set size read from /proc after every pass.
// Bound: the mean RSS at the end of passes 8-10 is at most 64 MB above the mean at the end of passes 2-4 (pass 1
// warms up; RSS swings by ~40 MB with garbage collection; a leak of what one pass carries, ~12 MB of text, would
// add ~70 MB over those 6 passes) and it never exceeds 1 GB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { spawnCli } from '../scripts/chaos-procs.ts';
import { CORPUS, expand, isHex } from './helpers/bad-input-corpus.ts';
import { setupSyncDb, TEST_ENV, waitFor } from './helpers/sync.ts';

const PASSES = 10;
const GROWTH_BOUND_MB = 64;
const PEAK_BOUND_MB = 1024;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

test(`daemon RSS stays bounded while the corpus streams through ${PASSES} times`, { timeout: 300_000 }, async () => {
  const t = await setupSyncDb();
  const rows = CORPUS.filter((c) => c.row && (c.sync.outcome === 'embedded' || c.sync.outcome === 'blank'))
    .map((c) => [c.row!.title, c.row!.description].map((v) => (v === null || isHex(v) ? null : expand(v))));
  const daemon = spawnCli({
    name: 'daemon', args: ['run', '--no-http'], readyText: '"event":"sync_started"',
    env: { ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', LOG_LEVEL: 'info' },
  });
  try {
    await daemon.ready;
    const pid = daemon.child.pid!;
    const afterPass: number[] = [];
    let peak = 0;
    const sampler = setInterval(() => { peak = Math.max(peak, rssMb(pid)); }, 100);
    try {
      for (let pass = 1; pass <= PASSES; pass++) {
        // Each pass replaces the previous one's rows, so the table stays small and every text is new work.
        await t.pool.query('DELETE FROM leads');
        await t.pool.query('INSERT INTO leads (title, description) SELECT * FROM unnest($1::text[], $2::text[])',
          [rows.map((r) => r[0]), rows.map((r) => (r[1] === null ? null : `${r[1]} ${pass}`))]);
        await t.look(); // queued before the wait below, which would otherwise pass before the daemon's watch looked
        await waitFor(`pass ${pass} embedded`, async () => (await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount === 0,
          120_000, 100);
        afterPass.push(rssMb(pid));
      }
    } finally {
      clearInterval(sampler);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const growth = mean(afterPass.slice(-3)) - mean(afterPass.slice(1, 4));
    const line = `RSS after each pass (MB): ${afterPass.map((x) => x.toFixed(0)).join(' ')}; peak ${peak.toFixed(0)}; ` +
      `growth (passes 8-10 vs 2-4) ${growth.toFixed(1)}`;
    process.stderr.write(`${line}\n`);
    assert.equal((await t.pool.query('SELECT 1 FROM embedsync.deadletter')).rowCount, 0, 'nothing dead-lettered');
    assert.ok(growth < GROWTH_BOUND_MB, line);
    assert.ok(peak < PEAK_BOUND_MB, line);
    assert.ok(daemon.alive, 'the daemon is still running');
  } finally {
    if (daemon.alive) daemon.child.kill('SIGTERM');
    await daemon.exited;
    await t.close();
  }
});
