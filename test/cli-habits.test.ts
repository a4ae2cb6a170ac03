// The CLI habits people expect, as separate processes: --help of every command without side effects,
// --version, text on stdin, a clear refusal of an over-long command line, and errors that name the setting
// and the fix (database and hub unreachable, a non-text column, an unmigrated table, config file typos).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { commandUsage, HELP, wantsHelp } from '../src/cli/commands.ts';
import { explainError } from '../src/cli/errors.ts';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { SETTINGS } from '../src/config/settings.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { createTestDatabase, LEADS_DDL } from './helpers/db.ts';

const BIN = new URL('../bin/embedsync.js', import.meta.url).pathname;
/** Settings under which any real work fails: a --help that did work would not exit 0. */
const NOWHERE = {
  DATABASE_URL: 'postgres://nobody:hunter2@127.0.0.1:1/none', EMBEDDING_MODEL: '/nonexistent/model', EMBEDDING_THREADS: '1',
};

interface Ran { code: number | null; stdout: string; stderr: string; ms: number }

export async function cli(args: readonly string[], env: Record<string, string> = {},
  o: { cwd?: string; stdin?: string } = {}): Promise<Ran> {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: o.cwd ?? process.cwd(), env: { ...process.env, ...env }, stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  if (o.stdin !== undefined) child.stdin!.end(o.stdin);
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr, ms: Date.now() - started };
}

/** Runs `fn` over `items`, `limit` at a time (the machine has two cores). */
async function pooled<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

test('--help of every command (and -h, and of sub-commands) prints its usage, exit 0 and touch nothing', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'embedsync-help-'));
  try {
    // Every command as a process; sub-commands through the same function main.ts calls (a process each would
    // double the test's time), plus the sub-command of the report: make-test wrote a model into a folder named --help.
    const cases: string[][] = Object.keys(HELP).map((name) => [name, '--help']);
    cases.push(['model', 'make-test', '--help'], ['model', 'make-test', 'out', '-h'], ['deadletter', 'retry', '-h'], ['help', 'migrate']);
    const results = await pooled(cases, 2, (args) => cli(args, NOWHERE, { cwd }));
    results.forEach((r, i) => {
      const args = cases[i]!;
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      const name = args[0] === 'help' ? args[1] : args[0];
      assert.match(r.stdout, new RegExp(`^usage: embedsync ${name}`), args.join(' '));
      assert.equal(r.stderr, '', args.join(' '));
    });
    assert.match(results[cases.findIndex((c) => c.join(' ') === 'model make-test --help')]!.stdout,
      /^usage: embedsync model make-test <dir>/);
    assert.match(results[cases.findIndex((c) => c.join(' ') === 'deadletter retry -h')]!.stdout,
      /^usage: embedsync deadletter retry \(--all \| ID\.\.\.\)/);
    for (const [name, h] of Object.entries(HELP)) {
      for (const sub of Object.keys(h.sub ?? {})) {
        assert.ok(wantsHelp([sub, '--help']));
        assert.match(commandUsage(name, [sub, '--help']), new RegExp(`^usage: embedsync ${name} ${sub}\\b`));
      }
    }
    assert.deepEqual(await readdir(cwd), [], 'no command did any work');

    const top = await cli(['--help'], NOWHERE);
    assert.equal(top.code, 0);
    for (const name of Object.keys(HELP)) assert.match(top.stdout, new RegExp(`\\n  ${name}\\b`));
    const version = await cli(['--version']);
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(version.code, 0);
    assert.equal(version.stdout, `embedsync ${pkg.version}\n`);
    // A text that starts with a dash still gets through after --.
    const dashed = await cli(['embed', '--model', TINY_MODEL_DIR, '--', '-h'], NOWHERE);
    assert.equal(dashed.code, 0, dashed.stderr);
    assert.equal(JSON.parse(dashed.stdout).dimensions, 64);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('embed reads its text from stdin (- or piped in); an over-long command line is refused before any model loads', async () => {
  const env = { ...NOWHERE, EMBEDDING_MODEL: TINY_MODEL_DIR };
  const [arg, dash, piped] = await Promise.all([
    cli(['embed', 'привет мир'], env),
    cli(['embed', '-'], env, { stdin: 'привет мир\n' }),
    cli(['embed'], env, { stdin: 'привет мир' }),
  ]);
  for (const r of [arg, dash, piped]) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(dash.stdout).embedding, JSON.parse(arg.stdout).embedding, 'one trailing newline is not part of the text');
  assert.deepEqual(JSON.parse(piped.stdout).embedding, JSON.parse(arg.stdout).embedding);

  // 40 KB of argv crashed ONNX Runtime's session creation (SIGSEGV: stack in proportion to the command line); with
  // the workers' larger stack it embeds. Past 64 KB: exit 2, the way out named, no model touched.
  const [long, fine] = await Promise.all([
    cli(['embed', 'x'.repeat(100_000)], NOWHERE),
    cli(['embed', 'word '.repeat(8000)], { ...NOWHERE, EMBEDDING_MODEL: TINY_MODEL_DIR }),
  ]);
  assert.equal(long.code, 2);
  assert.match(long.stderr, /^embedsync: the command line is 98 KB; arguments above 64 KB.*stdin.*embedsync embed - < text\.txt/s);
  assert.doesNotMatch(long.stderr, /nonexistent/, 'refused before loading the model');
  assert.equal(fine.code, 0, fine.stderr);
  assert.equal(JSON.parse(fine.stdout).dimensions, 64);
  // The same text through stdin works (cut to the model's length, with a note).
  const viaStdin = await cli(['embed', '-'], env, { stdin: 'слово '.repeat(8000) });
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  assert.match(viaStdin.stderr, /text cut to the model's 512 tokens/);
});

test('errors name the setting and the fix: database, hub, non-text column, not migrated, port taken; one prefix; ' +
  'HINT and DETAIL kept', async () => {
  const db = await createTestDatabase('clierr');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const cache = await mkdtemp(join(tmpdir(), 'embedsync-cache-'));
  try {
    await client.query(LEADS_DDL);
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as AddressInfo).port;
    const [refused, unknownHost, hub, numeric, unmigrated, portTaken] = await Promise.all([
      cli(['status'], NOWHERE),
      cli(['status'], { ...NOWHERE, DATABASE_URL: 'postgres://nobody:hunter2@no-such-host.invalid/db' }),
      cli(['embed', 'x'],
        { ...NOWHERE, EMBEDDING_MODEL: 'some-org/some-model', HF_ENDPOINT: 'http://127.0.0.1:1', EMBEDSYNC_CACHE_DIR: cache }),
      cli(['migrate'],
        { DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', EMBEDSYNC_TEXT_COLUMNS: 'title,price' }),
      cli(['status'], { DATABASE_URL: db.url }),
      cli(['run', '--no-sync'],
        { ...NOWHERE, EMBEDDING_MODEL: TINY_MODEL_DIR, HOST: '127.0.0.1', PORT: String(busyPort), LOG_LEVEL: 'silent' }),
    ]).finally(() => busy.close());
    assert.equal(portTaken.code, 1);
    assert.match(portTaken.stderr,
      new RegExp(`^embedsync: listen EADDRINUSE.*\\n  fix: the HTTP API cannot listen on 127\\.0\\.0\\.1:${busyPort}; set PORT`));
    for (const r of [refused, unknownHost]) {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^embedsync: cannot connect to PostgreSQL at postgres:\/\/nobody:\*\*\*@.* \(DATABASE_URL\)/);
      assert.match(r.stderr, /fix: .*DATABASE_URL=.*PGHOST/);
      assert.doesNotMatch(r.stderr, /hunter2/, 'password masked');
    }
    assert.match(refused.stderr, /ECONNREFUSED/);
    assert.match(unknownHost.stderr, /ENOTFOUND no-such-host\.invalid/);

    assert.equal(hub.code, 1);
    assert.match(hub.stderr, /EMBEDDING_MODEL=some-org\/some-model is a model hub id.*HF_ENDPOINT=http:\/\/127\.0\.0\.1:1/s);
    assert.match(hub.stderr, /fix: set EMBEDDING_MODEL to a local model folder.*model make-test/s);

    assert.equal(numeric.code, 1);
    assert.match(numeric.stderr,
      /text column price \(EMBEDSYNC_TEXT_COLUMNS\) is numeric; allowed are text, character varying, character, citext.*EMBEDSYNC_DOCUMENT_SQL/);
    assert.doesNotMatch(numeric.stderr, /btrim/);

    assert.equal(unmigrated.code, 1);
    // No schema at all, then a schema set up for another table: both say what to run.
    assert.match(unmigrated.stderr, /^embedsync: embedsync is not installed in this database: run `embedsync migrate` first\n$/);
    await client.query('CREATE TABLE notes (id int PRIMARY KEY, title text, description text)');
    const migrated = await cli(['migrate'],
      { DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', EMBEDSYNC_TABLE: 'notes' });
    assert.equal(migrated.code, 0, migrated.stderr);
    const other = await cli(['status'], { DATABASE_URL: db.url });
    assert.equal(other.code, 1);
    assert.match(other.stderr,
      /^embedsync: "public"\."leads" is not set up for embedsync \(no column embedding, .*\): run `embedsync migrate` first\n$/);
  } finally {
    await client.end();
    await db.drop();
    await rm(cache, { recursive: true, force: true });
  }

  // Postgres's own DETAIL and HINT survive; a message already prefixed is not prefixed twice.
  const settings = { databaseUrl: undefined, model: undefined, hfEndpoint: undefined, pgEnv: {} };
  const pgError = Object.assign(new Error('function embedsync.similar_to(integer, integer) does not exist'),
    { code: '42883', hint: 'No function matches the given name and argument types.', detail: 'schema embedsync is empty' });
  assert.equal(explainError(pgError, settings),
    'function embedsync.similar_to(integer, integer) does not exist\n  DETAIL: schema embedsync is empty\n' +
    '  HINT: No function matches the given name and argument types.\n' +
    '  fix: run `embedsync migrate` first (it installs or upgrades embedsync\'s schema and functions)');
  assert.equal(explainError(new Error('embedsync: embedsync: text cut'), settings), 'text cut');
  // Without DATABASE_URL the message says where libpq's variables pointed.
  const viaPg = explainError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:6543'), { code: 'ECONNREFUSED' }),
    { ...settings, pgEnv: { PGHOST: '10.0.0.9', PGPORT: '6543' } });
  assert.match(viaPg, /host=10\.0\.0\.9 port=6543 .*DATABASE_URL is not set/);
});

test('an unknown key in embedsync.config.json fails start-up with the nearest known name; every setting read is known', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'embedsync-config-'));
  try {
    const file = join(dir, 'embedsync.config.json');
    await writeFile(file, JSON.stringify({ EMBEDSYNC_TABEL: 'leads', EMBEDDING_MODEL: TINY_MODEL_DIR, totally_unrelated: 1 }));
    assert.throws(() => loadConfig({}, { configFile: file }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 2);
      assert.match(err.problems[0]!, /unknown setting EMBEDSYNC_TABEL \(did you mean EMBEDSYNC_TABLE\?\)/);
      assert.match(err.problems[1]!, /unknown setting totally_unrelated;/);
      return true;
    });
    const run = await cli(['status'], { EMBEDSYNC_CONFIG: file });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /did you mean EMBEDSYNC_TABLE/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // The list is the loader's: every quoted setting name in load-config.ts is in SETTINGS and the other way round.
  const source = await readFile(new URL('../src/config/load-config.ts', import.meta.url), 'utf8');
  const read = new Set([...source.matchAll(/(?:raw|get|int|ident)\('([A-Z_]+)'|merged\['([A-Z_]+)'\]/g)].map((m) => m[1] ?? m[2]!));
  assert.deepEqual([...read].sort(), [...SETTINGS].sort());
  // ...and docs/configuration.md's table has a row for each.
  const doc = await readFile(new URL('../docs/configuration.md', import.meta.url), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| (`[A-Z_]+`(?:, `[A-Z_]+`)*) \|/gm)]
    .flatMap((m) => m[1]!.split(', ').map((k) => k.slice(1, -1))));
  assert.deepEqual(SETTINGS.filter((k) => !documented.has(k)), []);
});
