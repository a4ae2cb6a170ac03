// `npm start`'s demo: seeds a few dozen leads (empty table only), migrates (schema, search functions, index),
// runs the daemon (sync + HTTP) until every lead is embedded, prints a similarity query with its answer and the
// lines to try it yourself, and keeps running until Ctrl-C. When the model hub cannot be reached it says so and
// runs on the bundled tiny test model instead. The HTTP API takes PORT, or 8000, or any free port when busy.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import pg from 'pg';
import { loadConfig, readProcessSettings, type Config } from '../src/config/index.ts';
import { createEncoder } from '../src/encoder/index.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { createLogger } from '../src/log/index.ts';
import { HubUnreachableError } from '../src/model/hub-download.ts';
import { TINY_MODEL_DIR } from '../test/support/tiny-model-dir.ts';
import { finishMigrate, migrate } from '../src/migration/migrate.ts';
import { finishLines } from '../src/cli/migrate-report.ts';
import { runService } from '../src/cli/run.ts';
import { quoteIdent, quoteQualified } from '../src/db/quote.ts';
import { freePort } from './free-port.ts';

const say = (s: string) => process.stdout.write(`${s}\n`);
/** The first query of the README's quick start: the rows most like lead 4, from SQL alone. */
const README_SQL = 'SELECT s.id, round(s.score::numeric, 3) AS score, l.title FROM embedsync.similar_to(4, 5) s ' +
  'JOIN leads l ON l.id = s.id ORDER BY s.score DESC;';
let config: Config = loadConfig(process.env, {
  cores: availableParallelism(), homeDir: readProcessSettings(process.env, process.cwd()).homeDir,
});

let encoder: Encoder;
let randomWeights = false;
try {
  say(`loading model ${config.model.model} ...`);
  encoder = await createEncoder(config.model, { progress: process.stderr, cwd: process.cwd() });
} catch (err) {
  if (!(err instanceof HubUnreachableError)) throw err;
  say(`\nThe model hub is unreachable (${err.message}).`);
  say('Running the demo on the bundled tiny test model instead. It has RANDOM WEIGHTS: the pipeline is real,');
  say('but its similarity answers are meaningless. Set EMBEDDING_MODEL to a local model folder for real results.\n');
  config = { ...config, model: { ...config.model, model: TINY_MODEL_DIR } };
  encoder = await createEncoder(config.model);
  randomWeights = true;
}
const model = encoder.info;
say(`model: ${model.name}${randomWeights ? ' (tiny test model, random weights)' : ''}, ${model.dimensions} dimensions, ` +
  `checksum ${model.checksum}`);

const db = new pg.Client({ connectionString: config.databaseUrl });
await db.connect();
const table = quoteQualified(config.source.table);
if (config.source.table.schema === 'public' && config.source.table.name === 'leads') {
  await db.query(readFileSync(new URL('./demo-leads.sql', import.meta.url), 'utf8'));
}
const m = await migrate({ config, model, progress: process.stderr });
say(`migrated: ${m.scanned} rows in ${table}, ${m.enqueued} enqueued for embedding`);
for (const line of finishLines(await finishMigrate(config, model))) say(line);

const port = await freePort(config.http.port, config.http.host);
if (port !== config.http.port) {
  say(`port ${config.http.port}${process.env.PORT ? ' (PORT)' : ''} is busy; the HTTP API uses port ${port} instead`);
  config = { ...config, http: { ...config.http, port } };
}

const controller = new AbortController();
// `on`, not `once`: Ctrl-C in a terminal reaches this process twice (from the terminal, and passed on by start.sh).
process.on('SIGINT', () => controller.abort());
process.on('SIGTERM', () => controller.abort());
const service = runService({
  config, sync: true, http: true, signal: controller.signal, logger: createLogger('warn'),
  loadEncoder: async () => encoder,
});
let serviceError: unknown;
service.catch((err: unknown) => { serviceError = err; controller.abort(); });

const started = Date.now();
for (;;) {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue');
  if (rows[0]!.n === 0 || controller.signal.aborted) break;
  if (Date.now() - started > 120_000) throw new Error('the queue did not drain within 2 minutes');
  await new Promise((r) => setTimeout(r, 100));
}
say(`all rows embedded in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const question = 'квартира рядом с метро';
const q = (await encoder.encode([question], 'query')).vectors[0]!;
const e = quoteIdent(config.source.embeddingColumn);
const sql = `SELECT id, title, city, round((1 - (${e} <=> $1))::numeric, 3) AS score
FROM ${table} WHERE ${e} IS NOT NULL
ORDER BY ${e} <=> $1 LIMIT 5`;
say(`\nquery: "${question}" (embedded with the query prompt)\n${sql}\n`);
const { rows } = await db.query<{ id: number; title: string; city: string; score: string }>(sql, [`[${Array.from(q).join(',')}]`]);
for (const r of rows) say(`  ${String(r.score).padEnd(6)} #${String(r.id).padEnd(3)} ${r.title} (${r.city})`);
if (randomWeights) say('\n(random-weight test model: the ranking above is not meaningful)');
await db.end();

if (!controller.signal.aborted) {
  say(`\nThe daemon keeps running, HTTP API on http://localhost:${config.http.port}. Insert or update a lead and it is re-embedded.`);
  say('Try it in another terminal (from this folder) while this one runs:\n');
  for (const line of nextSteps(config)) say(`  ${line}`);
  say('\nCtrl-C to stop.');
}
await service.catch(() => undefined);
if (serviceError) {
  process.stderr.write('embedsync: the daemon stopped: ' +
    `${serviceError instanceof Error ? serviceError.message : String(serviceError as unknown)}\n`);
  process.exitCode = 1;
}

/** The commands a newcomer types next: the settings this demo used, psql, the README's query, the CLI. */
function nextSteps(c: Config): string[] {
  const model = existsSync(c.model.model) ? resolve(c.model.model) : c.model.model;
  const env: [string, string | undefined][] = [
    ['DATABASE_URL', c.databaseUrl], ['EMBEDDING_MODEL', model],
    // Source settings the user gave this run: the CLI needs the same ones.
    ...(['EMBEDSYNC_TABLE', 'EMBEDSYNC_ID_COLUMN', 'EMBEDSYNC_TEXT_COLUMNS', 'EMBEDSYNC_EMBEDDING_COLUMN'] as const)
      .map((k) => [k, process.env[k]] as [string, string | undefined]),
  ];
  return [
    `export ${env.filter(([, v]) => v).map(([k, v]) => `${k}=${shellQuote(v!)}`).join(' ')}`,
    `psql "$DATABASE_URL" -c ${shellQuote(README_SQL)}`,
    'npx embedsync status',
    'npx embedsync search "квартира у метро"',
    `curl -s localhost:${c.http.port}/embed -H 'content-type: application/json' -d '{"text": "привет мир"}' | head -c 200`,
  ];
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

