// `npm start`'s demo: seeds a few dozen leads (empty table only), migrates, runs the daemon (sync + HTTP)
// until every lead is embedded, prints a similarity query with its answer, and keeps running until Ctrl-C.
// When the model hub cannot be reached it says so and runs on the bundled tiny test model instead.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import pg from 'pg';
import { loadConfig, type Config } from '../src/config/index.ts';
import { createEncoder } from '../src/encoder/index.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { createLogger } from '../src/log/index.ts';
import { HubUnreachableError } from '../src/model/hub-download.ts';
import { TINY_MODEL_DIR } from '../src/model/tiny-model.ts';
import { migrate } from '../src/cli/migrate.ts';
import { runService } from '../src/cli/run.ts';
import { quoteIdent, quoteQualified } from '../src/config/identifiers.ts';

const say = (s: string) => process.stdout.write(`${s}\n`);
let config: Config = loadConfig(process.env, { cores: availableParallelism(), homeDir: process.env.HOME ?? '.' });

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
say(`model: ${model.name}${randomWeights ? ' (tiny test model, random weights)' : ''}, ${model.dimensions} dimensions, checksum ${model.checksum}`);

const db = new pg.Client({ connectionString: config.databaseUrl });
await db.connect();
const table = quoteQualified(config.source.table);
if (config.source.table.schema === 'public' && config.source.table.name === 'leads') {
  await db.query(readFileSync(new URL('./demo-leads.sql', import.meta.url), 'utf8'));
}
const m = await migrate({ config, model, progress: process.stderr });
say(`migrated: ${m.scanned} rows in ${table}, ${m.enqueued} enqueued for embedding`);

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());
const service = runService({
  config, sync: true, http: true, signal: controller.signal, logger: createLogger('warn'),
  loadEncoder: async () => encoder,
});
service.catch(() => controller.abort());

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
const { rows } = await db.query(sql, [`[${Array.from(q).join(',')}]`]);
for (const r of rows) say(`  ${String(r.score).padEnd(6)} #${String(r.id).padEnd(3)} ${r.title} (${r.city})`);
if (randomWeights) say('\n(random-weight test model: the ranking above is not meaningful)');
await db.end();

if (!controller.signal.aborted) {
  say(`\nThe daemon keeps running (HTTP API on port ${config.http.port}). Insert or update a lead and it is re-embedded;`);
  say('`npx embedsync status` shows the queue. Ctrl-C to stop.');
}
await service;
