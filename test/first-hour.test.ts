// A new user's first hour on their own table (`listings`, keyed by `listing_id uuid`): every command run before
// `migrate` says to run it, errors name the likely right value (the primary key, the text columns, the nearest
// tables), doctor flags a table without a key, a missing model folder or config file is said so with the fix,
// `embed` refuses an empty text as the HTTP API does, and the API answers 413 and 405 in words that help.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { explainError } from '../src/cli/errors.ts';
import { startHttpServer, type HttpServer } from '../src/http/index.ts';
import { createLogger } from '../src/log/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { createTestDatabase } from './helpers/db.ts';
import { testConfig, tinyEncoder } from './helpers/http-app.ts';

const BIN = new URL('../bin/embedsync.js', import.meta.url).pathname;

interface Ran { code: number | null; stdout: string; stderr: string }

async function cli(args: readonly string[], env: Record<string, string>, o: { cwd?: string; stdin?: string } = {}): Promise<Ran> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(EMBEDSYNC_|EMBEDDING_|DATABASE_URL|HF_)/.test(k)));
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: o.cwd ?? process.cwd(), env: { ...clean, EMBEDDING_THREADS: '1', ...env },
    stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  if (o.stdin !== undefined) child.stdin!.end(o.stdin);
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

const servers: HttpServer[] = [];
after(async () => { await Promise.all(servers.map((s) => s.close())); });

test('before migrate, and on a table keyed by listing_id: what to run, the key, the columns, the nearest tables', {
  timeout: 120_000,
}, async () => {
  const db = await createTestDatabase('firsthour');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE listings (listing_id uuid PRIMARY KEY, title text, body text, price numeric);
                        CREATE TABLE listing_photos (photo_id int PRIMARY KEY, listing_id uuid, caption text);
                        CREATE TABLE nokey (id int, title text, description text)`);
    const env = {
      DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TABLE: 'listings', EMBEDSYNC_ID_COLUMN: 'listing_id',
      EMBEDSYNC_TEXT_COLUMNS: 'title,body',
    };

    // Every command that reads embedsync's tables, run before any migrate: one sentence, what to run.
    const before = await Promise.all([
      ['search', 'flat'], ['index', 'status'], ['index', 'rebuild'], ['deadletter', 'list'], ['deadletter', 'retry', '--all'], ['status'],
    ].map((args) => cli(args, env).then((r) => ({ args, ...r }))));
    for (const r of before) {
      assert.equal(r.code, 1, `${r.args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, 'embedsync: embedsync is not installed in this database: run `embedsync migrate` first\n', r.args.join(' '));
    }
    // search says so before it loads (or downloads) a model: here a hub id with no hub to reach.
    const noHub = await cli(['search', 'flat'], { ...env, EMBEDDING_MODEL: 'some-org/some-model', HF_ENDPOINT: 'http://127.0.0.1:1' });
    assert.equal(noHub.stderr, 'embedsync: embedsync is not installed in this database: run `embedsync migrate` first\n');

    // The defaults (id, title, description) on a table keyed by listing_id: the key and the text columns are named.
    const defaults = await cli(['migrate'], { DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TABLE: 'listings' });
    assert.equal(defaults.code, 1);
    assert.match(defaults.stderr, /id column id \(EMBEDSYNC_ID_COLUMN\) does not exist in "public"\."listings": its primary key is listing_id, so set EMBEDSYNC_ID_COLUMN=listing_id\n/);
    assert.match(defaults.stderr, /\n {2}text column description \(EMBEDSYNC_TEXT_COLUMNS\) does not exist in "public"\."listings": its text columns are title, body\n$/);
    const misspelt = await cli(['migrate'], { ...env, EMBEDSYNC_TEXT_COLUMNS: 'title,bdoy' });
    assert.equal(misspelt.code, 1);
    assert.match(misspelt.stderr,
      /text column bdoy \(EMBEDSYNC_TEXT_COLUMNS\) does not exist in "public"\."listings": its text columns are body, title\n$/);

    // A missing table: the nearest names; `run` says so (no "run migrate", which could not help) and stops.
    const [missing, run] = await Promise.all([
      cli(['migrate'], { ...env, EMBEDSYNC_TABLE: 'listing' }),
      cli(['run', '--no-http'], { ...env, EMBEDSYNC_TABLE: 'listing', LOG_LEVEL: 'silent' }),
    ]);
    for (const r of [missing, run]) {
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, 'embedsync: source table "public"."listing" does not exist (EMBEDSYNC_TABLE): ' +
        'tables here, nearest by name first: listings, listing_photos, nokey\n');
    }

    // doctor: a table without a key is flagged with the statement that mends it (migrate would refuse it).
    const noKey = await cli(['doctor', '--no-model'],
      { ...env, EMBEDSYNC_TABLE: 'nokey', EMBEDSYNC_ID_COLUMN: 'id', EMBEDSYNC_TEXT_COLUMNS: 'title' });
    assert.equal(noKey.code, 1);
    assert.match(noKey.stdout, /✘ source table +id column id \(EMBEDSYNC_ID_COLUMN\) of "public"\."nokey" is not unique .* allows NULL: .*\n +fix: ALTER TABLE "public"\."nokey" ADD PRIMARY KEY \("id"\);\n/);
    const keyed = await cli(['doctor', '--no-model'], env);
    assert.match(keyed.stdout, /✔ source table +"public"\."listings", id column listing_id \(uuid\), one row per id\n/);

    // Migrated, the same commands work; a table not migrated next to one that is still says what to run.
    const migrated = await cli(['migrate'], env);
    assert.equal(migrated.code, 0, migrated.stderr);
    // As README and docs/search.md say: the functions' key column is `id`, whatever the table calls its key.
    const joined = await client.query(`SELECT s.id, s.score, l.title FROM embedsync.similar_to(gen_random_uuid(), 5) s
                                       JOIN listings l ON l.listing_id = s.id`);
    assert.deepEqual(joined.fields.map((f) => f.name), ['id', 'score', 'title']);
    const [search, index, dead] = await Promise.all([
      cli(['search', 'flat'], env), cli(['index', 'status'], env), cli(['deadletter', 'list'], env),
    ]);
    for (const r of [search, index, dead]) assert.equal(r.code, 0, r.stderr);
    const other = await cli(['search', 'flat'],
      { ...env, EMBEDSYNC_TABLE: 'listing_photos', EMBEDSYNC_ID_COLUMN: 'photo_id', EMBEDSYNC_TEXT_COLUMNS: 'caption' });
    assert.equal(other.code, 1);
    assert.match(other.stderr,
      /^embedsync: "public"\."listing_photos" is not set up for embedsync \(no column embedding, .*\): run `embedsync migrate` first\n$/);
  } finally {
    await client.end();
    await db.drop();
  }

  // Any other of embedsync's objects found missing gets the same fix line, PostgreSQL's words kept.
  const raw = Object.assign(new Error('schema "embedsync" does not exist'), { code: '3F000' });
  assert.equal(explainError(raw, { databaseUrl: undefined, model: undefined, hfEndpoint: undefined, pgEnv: {} }),
    'schema "embedsync" does not exist\n  fix: run `embedsync migrate` first (it installs or upgrades embedsync\'s schema and functions)');
});

test('a missing config file or model folder fails at start-up with the fix; models/mine is a path when models/ is here', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'embedsync-first-'));
  try {
    await mkdir(join(dir, 'models'));
    const [config, folder, relative, dotted] = await Promise.all([
      cli(['status'], { EMBEDSYNC_CONFIG: join(dir, 'embedsync.json') }, { cwd: dir }),
      cli(['embed', 'x'], { EMBEDDING_MODEL: join(dir, 'no-model') }, { cwd: dir }),
      // A hub id's shape, but models/ is a folder here: a path, and the hub (unreachable here) is never asked.
      cli(['embed', 'x'], { EMBEDDING_MODEL: 'models/mine', HF_ENDPOINT: 'http://127.0.0.1:1', EMBEDSYNC_CACHE_DIR: join(dir, 'cache') },
        { cwd: dir }),
      cli(['embed', 'x'], { EMBEDDING_MODEL: './mine', HF_ENDPOINT: 'http://127.0.0.1:1' }, { cwd: dir }),
    ]);
    assert.equal(config.code, 2);
    assert.equal(config.stderr, 'embedsync: invalid configuration (1 problem):\n' +
      `  - EMBEDSYNC_CONFIG names ${join(dir, 'embedsync.json')}, which does not exist: correct the path, or unset EMBEDSYNC_CONFIG\n`);
    for (const r of [folder, relative, dotted]) {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^embedsync: model folder \S+ does not exist \(EMBEDDING_MODEL=/);
      assert.match(r.stderr, /\n {2}fix: set EMBEDDING_MODEL to a local model folder .*model make-test/s);
      assert.doesNotMatch(r.stderr, /hub id, and the hub|cannot reach/);
    }
    assert.match(relative.stderr, new RegExp(`model folder ${join(dir, 'models/mine')} does not exist ` +
      '\\(EMBEDDING_MODEL=models/mine; not taken for a hub id, since it names a local path\\)'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('embed refuses an empty or blank text, as an argument or on stdin, as the HTTP API does (400 there)', async () => {
  const env = { EMBEDDING_MODEL: TINY_MODEL_DIR };
  const [empty, blank, stdinEmpty, stdinBlank, fine] = await Promise.all([
    cli(['embed', ''], env), cli(['embed', ' \t '], env), cli(['embed'], env, { stdin: '' }), cli(['embed', '-'], env, { stdin: '  \n' }),
    cli(['embed', 'x'], env),
  ]);
  for (const r of [empty, blank, stdinEmpty, stdinBlank]) {
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '', 'no vector');
  }
  assert.match(empty.stderr, /^embedsync: the text must not be empty\nusage: embedsync embed/);
  assert.match(blank.stderr, /^embedsync: the text is only whitespace; there is nothing to embed\n/);
  assert.match(stdinEmpty.stderr, /^embedsync: the text on stdin must not be empty\n/);
  assert.match(stdinBlank.stderr, /^embedsync: the text on stdin is only whitespace/);
  assert.equal(fine.code, 0, fine.stderr);

  // The HTTP API's words for the same texts.
  const server = await startHttpServer({
    config: testConfig(), encoder: tinyEncoder(), metrics: createMetrics({ defaultMetrics: false }), logger: createLogger('silent'),
  });
  servers.push(server);
  await server.app.embedsync.ready;
  const res = await fetch(`${server.address}/embed`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: ' \t ' }),
  });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { detail: string }).detail, /is only whitespace; there is nothing to embed/);
});

test('POST /embed with a 10 MB body: 413 naming the limits and the routes for more; ' +
  'a served path with another method: 405 with Allow', async () => {
  const server = await startHttpServer({
    config: testConfig(), encoder: tinyEncoder(), metrics: createMetrics({ defaultMetrics: false }), logger: createLogger('silent'),
  });
  servers.push(server);
  await server.app.embedsync.ready;
  const url = (path: string) => `${server.address}${path}`;
  const big = await fetch(url('/embed'), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'x'.repeat(10 << 20) }),
  });
  assert.equal(big.status, 413);
  const detail = ((await big.json()) as { detail: string }).detail;
  assert.match(detail, /^request body is larger than POST \/embed takes: one text of MAX_TEXT_LENGTH characters fits in \d+ bytes, TEI's list of inputs in \d+; send many texts to \/embed\/batch, POST \/ or \/v1\/embeddings \(up to BODY_LIMIT_BYTES, \d+ bytes\), and cut a longer text to MAX_TEXT_LENGTH characters$/);

  const get = await fetch(url('/embed'));
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
  assert.match(((await get.json()) as { detail: string }).detail, /^GET is not served on \/embed; it answers POST$/);
  const openai = await fetch(url('/v1/embeddings'));
  assert.equal(openai.status, 405);
  assert.equal(((await openai.json()) as { error: { code: string } }).error.code, 'method_not_allowed', 'in the OpenAI dialect');
  const health = await fetch(url('/health'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(health.status, 405);
  assert.equal(health.headers.get('allow'), 'GET, HEAD');
  const model = await fetch(url('/v1/models/some-model'), { method: 'DELETE' });
  assert.equal(model.status, 405, 'a parametric route too');
  assert.equal((await fetch(url('/no-such-route'))).status, 404);
});
