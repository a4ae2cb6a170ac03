// A row that ends migrate's process during a shadow migration's backfill (a native crash of the new model, an
// out-of-memory kill) must not end every rerun at the same chunk: the crash drill (EMBEDSYNC_CRASH_DRILL_TEXT)
// kills `embedsync migrate` whenever the marker row is encoded, and the operator runs migrate again each time.
// After a bounded number of runs the migration finishes, the marker row dead-lettered with the reason and every
// other row embedded by the new model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { createTestDatabase, LEADS_DDL } from './helpers/db.ts';
import { TEST_ENV } from './helpers/sync.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';
import { FULL_SUITE_ONLY } from './helpers/tier.ts';
import { ALONE_ENDS, nextPieces } from '../src/migration/backfill-suspects.ts';

const variants = modelVariantsForTests({ small: { hidden: 48, seed: 7 } });

interface Ran { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

async function migrate(env: Record<string, string>): Promise<Ran> {
  const child = spawn(process.execPath, ['bin/embedsync.js', 'migrate'], {
    env: { ...process.env, ...TEST_ENV, EMBEDDING_THREADS: '1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const [code, signal] = await once(child, 'exit') as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout, stderr };
}

test('halves, then one row alone: innocent rows are encoded, the bad one dead-lettered after ALONE_ENDS ends alone', () => {
  assert.deepEqual(nextPieces(['a', 'b', 'c', 'd', 'e'], 1), [['a', 'b', 'c'], ['d', 'e']]);
  assert.deepEqual(nextPieces(['a'], ALONE_ENDS - 1), [['a']]);
  assert.equal(nextPieces(['a'], ALONE_ENDS), null);
});

test('a row that ends migrate during the backfill: each rerun narrows it down, then it is dead-lettered and the ' +
  'migration finishes with every other row', FULL_SUITE_ONLY, async () => {
  const marker = 'CRASH-DRILL-b41c';
  const rows = 40;
  const db = await createTestDatabase('migcrash');
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    await pool.query(LEADS_DDL);
    await pool.query(`INSERT INTO leads (title, description) SELECT 'lead ' || g, 'about ' || g FROM generate_series(1, $1::int) g`,
      [rows]);
    await pool.query(`UPDATE leads SET description = 'a row that crashes the encoder ${marker}' WHERE id = 13`);
    const first = await migrate({ DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR });
    assert.equal(first.code, 0, first.stderr);

    const env = { DATABASE_URL: db.url, EMBEDDING_MODEL: variants.small, EMBEDSYNC_CRASH_DRILL_TEXT: marker };
    // One end per halving of the first chunk (all 40 rows), then ALONE_ENDS with the row alone.
    const bound = Math.ceil(Math.log2(rows)) + ALONE_ENDS;
    let ends = 0;
    let last: Ran | undefined;
    const said: string[] = [];
    for (let run = 0; run <= bound + 1; run++) {
      last = await migrate(env);
      said.push(last.stderr);
      if (last.signal !== 'SIGKILL') break;
      ends += 1;
    }
    // Each run after an end says what it does about it; the last one names the row.
    assert.match(said[1]!, /^migrate: a run ended while encoding 40 rows \(1 time\): encoding them in halves/m);
    assert.match(last!.stderr, /^migrate: a run ended while encoding row 13 alone \(2 times\): dead-lettering it and encoding the rest/m);
    assert.equal(last!.code, 0, `the last run: ${last!.signal ?? last!.code} ${last!.stderr}`);
    assert.ok(ends > ALONE_ENDS && ends <= bound, `${ends} runs ended, at most ${bound}`);
    assert.match(last!.stdout, /row 13 dead-lettered: the process ended while the new model encoded this row 2 times/);

    const state = await pool.query<{ dimensions: number }>(`SELECT dimensions FROM embedsync.state WHERE source = 'public.leads'`);
    assert.equal(state.rows[0]!.dimensions, 48, 'the migration finished');
    const embedded = await pool.query<{ id: string }>('SELECT id::text FROM leads WHERE embedding IS NOT NULL ORDER BY id');
    assert.equal(embedded.rowCount, rows - 1);
    assert.ok(!embedded.rows.some((r) => r.id === '13'));
    const dead = await pool.query<{ id: string; last_error: string }>('SELECT id, last_error FROM embedsync.deadletter');
    assert.deepEqual(dead.rows,
      [{ id: '13', last_error: "the process ended while the new model encoded this row 2 times (migrate's backfill)" }]);
    assert.equal((await pool.query(`SELECT 1 FROM embedsync.queue WHERE id = '13'`)).rowCount, 0,
      'the enqueue pass after the swap leaves the dead letter alone: no daemon starts the crashes over');
  } finally {
    await pool.end();
    await db.drop();
  }
});
