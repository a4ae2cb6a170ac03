// The newcomer path end to end, as the README tells it: `npm start` (scripts/start.sh) until the demo answer,
// with port 8000's stand-in busy; the copy-paste lines it prints, run as printed; the README's SQL against the
// demo database; `embedsync doctor` on what the demo set up, then on a broken trigger; compose's init script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { createTestDatabase } from './helpers/db.ts';

const ROOT = new URL('..', import.meta.url).pathname;

/** The ```sql block of the README's quick start: what a reader pastes into psql first. */
export async function readmeQuickStartSql(): Promise<string> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const quick = readme.slice(readme.indexOf('## Quick start'));
  const m = /```sql\n([\s\S]*?)```/.exec(quick);
  assert.ok(m, 'the quick start has an sql block');
  return m[1]!.trim();
}

test('npm start: demo answer on a free port while PORT is busy; its next-step lines work; README SQL; doctor', {
  timeout: 120_000,
}, async () => {
  const db = await createTestDatabase('newcomer');
  const busy: Server = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '0.0.0.0', resolve));
  const busyPort = (busy.address() as AddressInfo).port;
  const env = { ...process.env, DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', LOG_LEVEL: 'warn' };
  const demo = spawn('bash', ['scripts/start.sh'],
    { cwd: ROOT, env: { ...env, PORT: String(busyPort) }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  demo.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  demo.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const exited = once(demo, 'exit');
  try {
    await Promise.race([
      new Promise<void>((resolve) => {
        const t = setInterval(() => { if (out.includes('Ctrl-C to stop.')) { clearInterval(t); resolve(); } }, 100);
      }),
      exited.then(([code]) => { throw new Error(`the demo exited (${code}) before its answer:\n${out}\n${err}`); }),
    ]);
    assert.doesNotMatch(err, /EADDRINUSE|Error:/);
    assert.match(out, /search functions .*embedsync\.similar_to, embedsync\.search, embedsync\.hybrid_search installed/);
    const moved = new RegExp(`port ${busyPort} \\(PORT\\) is busy; the HTTP API uses port (\\d+) instead`).exec(out);
    assert.ok(moved, out);
    const port = Number(moved[1]);
    assert.match(out, /all rows embedded in/);
    assert.match(out, /^ {2}0\.\d{3} +#\d+ +\S/m, 'the similarity answer');
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);

    // The copy-paste lines, run exactly as printed, from the project folder.
    const lines = out.slice(out.indexOf('Try it')).split('\n').map((l) => l.trim())
      .filter((l) => /^(export|psql|npx embedsync status)/.test(l));
    assert.equal(lines.length, 3, out);
    assert.equal(lines[0], `export DATABASE_URL=${db.url} EMBEDDING_MODEL=${TINY_MODEL_DIR}`);
    const sql = await readmeQuickStartSql();
    assert.ok(lines[1]!.includes(sql), `the demo's psql line runs the README's query: ${lines[1]}`);
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|EMBEDDING_MODEL|PG)/.test(k)));
    const pasted = spawnSync('bash', ['-ec', lines.join('\n')], { cwd: ROOT, env: clean, encoding: 'utf8' });
    assert.equal(pasted.status, 0, pasted.stderr);
    assert.match(pasted.stdout, /\(5 rows\)/);
    assert.match(pasted.stdout, /rows +36 total: 36 current, 0 stale, 0 missing, 0 blank/);

    // The README's SQL on its own, as a reader pastes it into psql.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; score: string; title: string }>(sql);
      assert.equal(rows.length, 5);
      assert.ok(rows.every((r) => Number(r.id) !== 4 && Number(r.score) > -1 && r.title), 'neighbours of lead 4, itself excluded');

      const doctor = spawnSync(process.execPath, ['bin/embedsync.js', 'doctor'], { cwd: ROOT, env, encoding: 'utf8' });
      assert.equal(doctor.status, 0, doctor.stdout + doctor.stderr);
      const checks = doctor.stdout.split('\n').filter((l) => /^[✔✘] /.test(l));
      assert.deepEqual(checks.map((l) => l.split(/\s{2,}|\s(?=\S)/)[1]),
        ['database', 'pgvector', 'source', 'schema', 'triggers', 'privileges', 'model', 'model', 'queue', 'dead', 'index']);
      assert.ok(checks.every((l) => l.startsWith('✔')), doctor.stdout);

      await client.query('ALTER TABLE leads DISABLE TRIGGER ALL');
      await client.query('INSERT INTO embedsync.deadletter (source, id, attempts, last_error, enqueued_at) ' +
        `VALUES ('public.leads', '999', 5, 'boom', now())`);
      const sick = spawnSync(process.execPath, ['bin/embedsync.js', 'doctor', '--no-model'], { cwd: ROOT, env, encoding: 'utf8' });
      assert.equal(sick.status, 1, sick.stdout + sick.stderr);
      assert.match(sick.stdout,
        /✘ triggers +0 of 3 embedsync triggers enabled on "public"\."leads" \(inserts: the daemons' watch, no INSERT trigger\), updates: [^\n]+\n +fix: embedsync migrate/);
      assert.match(sick.stdout, /✘ dead letters +1 row failed every attempt\n +fix: `embedsync deadletter list`/);
      assert.match(sick.stdout, /\n2 of \d+ checks failed\n$/);
    } finally {
      await client.end();
    }

    process.kill(-demo.pid!, 'SIGINT');
    const [code] = await exited;
    assert.equal(code, 0, err);
  } finally {
    if (demo.exitCode === null) process.kill(-demo.pid!, 'SIGKILL');
    busy.close();
    await db.drop();
  }
});

test('docker compose on a fresh database: the init script the postgres container runs makes migrate and similar_to work', async () => {
  const compose = parseYaml(await readFile(new URL('../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
    services: Record<string, { volumes?: string[]; environment?: Record<string, string> }>;
  };
  const init = (compose.services.postgres!.volumes ?? []).map((v) => v.split(':'))
    .find(([, target]) => target!.startsWith('/docker-entrypoint-initdb.d/'));
  assert.ok(init, 'postgres mounts an init script');
  assert.match(init[1]!, /\.sql$/, 'the entrypoint runs .sql files');
  const daemonEnv = compose.services.embedsync!.environment!;
  assert.equal(daemonEnv.EMBEDSYNC_TABLE, '${EMBEDSYNC_TABLE:-leads}');
  assert.equal(daemonEnv.EMBEDSYNC_TEXT_COLUMNS, '${EMBEDSYNC_TEXT_COLUMNS:-title,description}');

  const db = await createTestDatabase('compose');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    // What the entrypoint does with the file on an empty data directory (pgvector is in the image).
    await client.query(await readFile(new URL(`../${init[0]!.replace(/^\.\//, '')}`, import.meta.url), 'utf8'));
    const migrated = spawnSync(process.execPath, ['bin/embedsync.js', 'migrate'], {
      cwd: ROOT, encoding: 'utf8',
      env: {
        ...process.env, DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', EMBEDSYNC_TABLE: 'leads',
        EMBEDSYNC_TEXT_COLUMNS: 'title,description',
      },
    });
    assert.equal(migrated.status, 0, migrated.stderr);
    assert.match(migrated.stdout, /enqueue: 36 rows scanned, 36 enqueued/);
    assert.match(migrated.stdout, /search functions .*embedsync\.similar_to, embedsync\.search, embedsync\.hybrid_search installed/);
    // The function answers (empty until the daemon has embedded the rows, but it exists and runs).
    const { rowCount } = await client.query('SELECT * FROM embedsync.similar_to(4, 5)');
    assert.equal(rowCount, 0);
  } finally {
    await client.end();
    await db.drop();
  }
});
