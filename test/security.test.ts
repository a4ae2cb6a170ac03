// Security properties, each checked against the real thing: config identifiers refused by the CLI at start-up,
// texts reaching SQL only as parameters (proved from the server's statement log), API key checks and their rate
// limit, no secrets in the logs of a running `embedsync run`, and the daemon under the least-privilege roles
// that docs/security.md gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { createKeyCheck } from '../src/http/auth.ts';
import { runCli, spawnCli } from '../scripts/chaos-procs.ts';
import { adminUrl, createTestDatabase, LEADS_DDL } from './helpers/db.ts';
import { makeApp } from './helpers/http-app.ts';
import { setupSyncDb, TEST_ENV, waitFor } from './helpers/sync.ts';

const CLI_ENV = { ...TEST_ENV, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1' };

test('embedsync run refuses injection-like identifiers at start-up, exit 2, every reason listed', async () => {
  const p = spawnCli({
    name: 'run', args: ['run'], keepOutput: true,
    env: {
      EMBEDSYNC_TABLE: 'leads; drop table x',
      EMBEDSYNC_ID_COLUMN: '"id"',
      EMBEDSYNC_EMBEDDING_COLUMN: 'еmbedding', // Cyrillic е
      EMBEDSYNC_TEXT_COLUMNS: 'title,description) --',
      EMBEDSYNC_DOCUMENT_SQL: "title; DROP TABLE leads",
      // Unreachable on purpose: the configuration must fail before anything connects.
      DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none',
    },
  });
  const { code } = await p.exited;
  const out = p.output();
  assert.equal(code, 2, out);
  assert.match(out, /invalid configuration \(5 problems\)/);
  assert.match(out, /EMBEDSYNC_TABLE \("leads; drop table x"\) .*must be a plain lower-case identifier/);
  assert.match(out, /EMBEDSYNC_ID_COLUMN \("\\"id\\""\) must be a plain lower-case identifier/);
  assert.match(out, /EMBEDSYNC_EMBEDDING_COLUMN .*non-ASCII characters \(lookalike letters are refused\)/);
  assert.match(out, /EMBEDSYNC_TEXT_COLUMNS column "description\) --" must be a plain lower-case identifier/);
  assert.match(out, /EMBEDSYNC_DOCUMENT_SQL must be a single SQL expression/);
  assert.doesNotMatch(out, /ECONNREFUSED/, 'nothing was connected');
});

test('texts reach SQL only as parameters: the statement log never holds them', { timeout: 120_000 }, async () => {
  const pgDir = process.env.EMBEDSYNC_TEST_PG_DIR;
  assert.ok(pgDir, 'run with npm test (the throwaway cluster)');
  const t = await setupSyncDb();
  const marker = `m${randomBytes(6).toString('hex')}`;
  const texts = [`'); DROP TABLE leads; -- ${marker}`, `$$ ${marker} $fn$ \\'; DELETE FROM embedsync.queue; --`, `${marker}" OR 1=1 /*`];
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  const daemon = spawnCli({
    name: 'daemon', args: ['run', '--no-http'], env: { ...CLI_ENV, DATABASE_URL: t.db.url }, readyText: '"event":"sync_started"',
  });
  try {
    // Every statement of new sessions in this database is logged; parameter values are not.
    await admin.query(`ALTER DATABASE ${t.db.name} SET log_statement = 'all'`);
    await admin.query(`ALTER DATABASE ${t.db.name} SET log_parameter_max_length = 0`);
    await daemon.ready;
    const writer = new pg.Client({ connectionString: t.db.url });
    await writer.connect();
    try {
      await writer.query('INSERT INTO leads (title, description) SELECT x, x FROM unnest($1::text[]) x', [texts]);
    } finally {
      await writer.end();
    }
    await waitFor('embedded',
      async () => (await t.pool.query('SELECT 1 FROM leads WHERE embedding IS NOT NULL')).rowCount === texts.length, 30_000, 100);
    assert.equal((await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount, 0);
    const log = readFileSync(join(pgDir, 'server.log'), 'utf8');
    assert.ok(/LOG: {2}execute <unnamed>: [^\n]*Writes a batch and dequeues it/.test(log), 'the daemon\'s statements were logged');
    assert.ok(!log.includes(marker), 'no text appears in any logged statement');
  } finally {
    await admin.query(`ALTER DATABASE ${t.db.name} RESET ALL`).catch(() => undefined);
    await admin.end();
    if (daemon.alive) daemon.child.kill('SIGTERM');
    await daemon.exited;
    await t.close();
  }
});

test('API key: wrong keys of any length get 401 and are rate-limited per client; the right key still works', async () => {
  const key = 'k3y-' + randomBytes(16).toString('hex');
  const { app } = await makeApp({ env: { API_KEY: key, RATE_LIMIT: '6/minute' } });
  try {
    const wrong = ['', 'x', key.slice(0, -1), `${key}x`, key.toUpperCase(), 'y'.repeat(10_000)];
    for (const [i, k] of wrong.entries()) {
      const headers: Record<string, string> = i % 2 ? { 'x-api-key': k } : { authorization: `Bearer ${k}` };
      const res = await app.inject({ method: 'POST', url: '/embed', headers, payload: { text: 'hello' } });
      assert.equal(res.statusCode, 401, `wrong key #${i}: ${res.body}`);
      assert.ok(!res.body.includes(key), 'the answer never echoes the key');
    }
    const limited = await app.inject({ method: 'POST', url: '/embed', headers: { 'x-api-key': 'guess' }, payload: { text: 'hello' } });
    assert.equal(limited.statusCode, 429, 'guessing runs into the rate limit');
    assert.ok(limited.headers['retry-after'], 'with Retry-After');
    const right = await app.inject({
      method: 'POST', url: '/embed', headers: { authorization: `Bearer ${key}` }, payload: { text: 'hello' },
    });
    assert.equal(right.statusCode, 200, 'a verified key has its own bucket');
  } finally {
    await app.close();
  }
  // Keys are compared as fixed-length digests: no length leaks, no length mismatch error.
  const check = createKeyCheck(key);
  for (const k of ['', 'a', key.slice(0, 8), 'z'.repeat(100_000)]) {
    const request = { headers: { 'x-api-key': k }, method: 'POST', routeOptions: { url: '/embed' }, ip: '127.0.0.1' };
    assert.throws(() => check.check(request as never), (e: { statusCode?: number }) => e.statusCode === 401);
  }
});

test('nothing logs texts, keys or the database password', { timeout: 120_000 }, async () => {
  const db = await createTestDatabase('secretlog');
  const suffix = randomBytes(4).toString('hex');
  const role = `seclog_${suffix}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const key = `key-${randomBytes(12).toString('hex')}`;
  const wrongKey = `wrong-${randomBytes(12).toString('hex')}`;
  const secretText = `secret text ${randomBytes(12).toString('hex')}`;
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${password}'`);
  await admin.query(LEADS_DDL);
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  const env = { ...CLI_ENV, DATABASE_URL: url.toString(), API_KEY: key, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug' };
  let run: ReturnType<typeof spawnCli> | undefined;
  try {
    const migrated = await runCli(['migrate'], env);
    run = spawnCli({ name: 'run', args: ['run'], env, keepOutput: true, readyText: '"event":"sync_started"' });
    await run.ready;
    const address = await waitFor('http listening', async () => /"address":"([^"]+)"/.exec(run!.output())?.[1], 20_000, 50);
    await admin.query('INSERT INTO leads (title, description) VALUES ($1, $1)', [secretText]);
    const post = (path: string, body: unknown, k = key) => fetch(`${address}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${k}` }, body: JSON.stringify(body),
    });
    assert.equal((await post('/embed', { text: secretText })).status, 200);
    assert.equal((await post('/embed/batch', { items: [{ id: '1', text: secretText }, { id: '2', text: `${secretText}\u0000` }] })).status,
      200);
    assert.equal((await post('/v1/embeddings', { input: [secretText] })).status, 200);
    assert.equal((await post('/embed', { text: secretText }, wrongKey)).status, 401);
    assert.equal((await post('/embed', { text: `${secretText} ${'x'.repeat(10_001)}` })).status, 400);
    assert.equal((await post('/embed', { text: `${secretText}\u0000` })).status, 400);
    await waitFor('embedded',
      async () => (await admin.query('SELECT 1 FROM leads WHERE embedding IS NOT NULL')).rowCount === 1, 20_000, 100);
    // Dropped connections make the daemon log errors: they must not carry the connection string either.
    await admin.query(`SELECT pg_terminate_backend(pid) FROM (SELECT pid FROM pg_stat_activity WHERE usename = $1 OFFSET 0) x`, [role]);
    await admin.query('UPDATE leads SET description = $1', [`${secretText} again`]);
    await waitFor('re-embedded after the drop', async () => (await admin.query(
      'SELECT 1 FROM leads WHERE embedding IS NOT NULL AND NOT EXISTS (SELECT 1 FROM embedsync.queue)')).rowCount === 1, 30_000, 100);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    const out = migrated + run.output();
    assert.match(out, /"event":"sync_started"/, 'the logs were captured');
    assert.match(out, /"event":"batch_process"/, 'request lines were logged');
    for (const [what, secret] of [
      ['text', secretText.split(' ').pop()!], ['API key', key], ['wrong key', wrongKey], ['password', password],
    ] as const) {
      assert.ok(!out.includes(secret), `the ${what} appears in the output`);
    }
  } finally {
    if (run?.alive) run.child.kill('SIGKILL');
    await admin.end();
    await db.drop();
    await dropRoles(role);
  }
});

/** The SQL blocks of docs/security.md, role names made unique for this cluster. */
function securitySql(name: 'superuser' | 'grants' | 'compiled', suffix: string): string {
  const doc = readFileSync(new URL('../docs/security.md', import.meta.url), 'utf8');
  const m = new RegExp(`<!-- security-sql:${name} -->\\s*\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(doc);
  assert.ok(m, `docs/security.md has the ${name} block`);
  return m[1]!.replace(/\b(embedsync_migrate|embedsync_daemon|app_owner)\b/g, `$1_${suffix}`);
}

test('the daemon embeds rows under the least-privilege roles of docs/security.md', { timeout: 180_000 }, async () => {
  const db = await createTestDatabase('leastpriv');
  const suffix = randomBytes(4).toString('hex');
  const [owner, migrator, daemonRole] = ['app_owner', 'embedsync_migrate', 'embedsync_daemon']
    .map((r) => `${r}_${suffix}`) as [string, string, string];
  const su = new pg.Client({ connectionString: db.url });
  await su.connect();
  const as = (r: string) => { const u = new URL(db.url); u.username = r; u.password = 'x'; return u.toString(); };
  let run: ReturnType<typeof spawnCli> | undefined;
  try {
    // The application's table, owned by the application's role, as in production.
    await su.query(`CREATE ROLE ${owner} NOLOGIN`);
    await su.query(LEADS_DDL);
    await su.query(`ALTER TABLE leads OWNER TO ${owner}`);
    await su.query(`INSERT INTO leads (title, description) SELECT 'Lead ' || g, 'row ' || g FROM generate_series(1, 30) g`);
    await su.query(securitySql('superuser', suffix));

    // The server has the extension's files (scripts/setup.sh), the database not the extension: migrate says what to do.
    assert.match(await runCli(['migrate'], { ...CLI_ENV, DATABASE_URL: as(migrator) }),
      /updates: PL\/pgSQL function\).*\n.*embedsync_capture is available on this server: CREATE EXTENSION embedsync_capture/);
    const m = new pg.Client({ connectionString: as(migrator) });
    await m.connect();
    try {
      await m.query(securitySql('grants', suffix));
    } finally {
      await m.end();
    }
    // Step 4, the compiled UPDATE function: without the grant migrate warns and keeps the PL/pgSQL function; with it,
    // the trigger the migrate role creates calls the compiled one, which logs the application's updates below.
    await su.query('CREATE EXTENSION embedsync_capture');
    const withoutGrant = await runCli(['migrate'], { ...CLI_ENV, DATABASE_URL: as(migrator) });
    assert.match(withoutGrant, /may not execute embedsync\.capture_update\(\)/);
    assert.match(withoutGrant, /updates: PL\/pgSQL function/);
    assert.doesNotMatch(withoutGrant, /is available on this server/, 'created: the warning about the grant says what to do');
    await su.query(securitySql('compiled', suffix));
    assert.match(await runCli(['migrate'], { ...CLI_ENV, DATABASE_URL: as(migrator) }), /updates: compiled function \(embedsync_capture\)/);
    // The daemon's role really is limited: no DDL, no other columns, no writes to the text.
    const d = new pg.Client({ connectionString: as(daemonRole) });
    await d.connect();
    try {
      for (const sql of [
        'SELECT city FROM leads LIMIT 1', "UPDATE leads SET title = 'x'", 'CREATE TABLE embedsync.x (a int)', 'TRUNCATE embedsync.queue',
      ]) {
        await assert.rejects(d.query(sql), (e: { code?: string }) => e.code === '42501', `refused: ${sql}`);
      }
    } finally {
      await d.end();
    }

    run = spawnCli({
      name: 'daemon', args: ['run', '--no-http'], env: { ...CLI_ENV, DATABASE_URL: as(daemonRole) }, keepOutput: true,
      readyText: '"event":"sync_started"',
    });
    await run.ready;
    await su.query(`INSERT INTO leads (title) VALUES ('inserted while the daemon runs')`);
    await su.query(`UPDATE leads SET title = 'changed' WHERE id = 1`);
    await su.query(`DELETE FROM leads WHERE id = 2`);
    await waitFor('all embedded', async () => (await su.query(
      'SELECT 1 FROM leads WHERE embedding IS NULL OR embedding_text_hash IS NULL')).rowCount === 0
      && (await su.query('SELECT 1 FROM embedsync.queue UNION ALL SELECT 1 FROM embedsync.leads_changes')).rowCount === 0,
    60_000, 200);
    assert.equal((await su.query('SELECT 1 FROM embedsync.deadletter')).rowCount, 0);
    assert.doesNotMatch(run.output(), /permission denied/, run.output());
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    if (run?.alive) run.child.kill('SIGKILL');
    await su.end();
    await db.drop();
    await dropRoles(daemonRole, migrator, owner);
  }
});

/** Test roles are cluster-wide: drop them (and anything they still own) whatever the test left behind. */
async function dropRoles(...roles: readonly string[]): Promise<void> {
  const a = new pg.Client({ connectionString: adminUrl() });
  await a.connect();
  try {
    for (const r of roles) {
      await a.query(`DROP OWNED BY ${r} CASCADE`).catch(() => undefined);
      await a.query(`DROP ROLE IF EXISTS ${r}`).catch(() => undefined);
    }
  } finally {
    await a.end();
  }
}
