// The commands with several tables, as a user runs them: migrate records each table's settings and refuses
// other ones without --update-settings; `run` with EMBEDSYNC_TABLE=* embeds every table in one process and its
// /status and /metrics cover each; status and doctor cover each; remove takes a table off while run serves it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { createTestDatabase, LEADS_DDL } from './helpers/db.ts';
import { TEST_ENV, waitFor } from './helpers/sync.ts';
import { freePort } from '../scripts/free-port.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';

const variants = modelVariantsForTests({ other: { hidden: 64, seed: 12 } });

interface Ran { code: number | null; stdout: string; stderr: string }

function cli(args: readonly string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['bin/embedsync.js', ...args], {
    env: { ...process.env, ...TEST_ENV, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const done = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, done: done as Promise<Ran> };
}

test('EMBEDSYNC_TABLE=*: one run serves every migrated table; status, doctor, /status and /metrics cover each; ' +
  'remove while it runs', async () => {
  const db = await createTestDatabase('multicli');
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const env = { DATABASE_URL: db.url };
  let run: ReturnType<typeof cli> | undefined;
  try {
    // notes on another model than leads: the run loads both, once each.
    const notesEnv = { ...env, EMBEDSYNC_TABLE: 'notes', EMBEDSYNC_TEXT_COLUMNS: 'body', EMBEDDING_MODEL: variants.other };
    await pool.query(LEADS_DDL);
    await pool.query('CREATE TABLE notes (id serial PRIMARY KEY, body text)');
    await pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 12) g`);
    await pool.query(`INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 8) g`);
    for (const e of [env, notesEnv]) {
      const m = await cli(['migrate'], e).done;
      assert.equal(m.code, 0, m.stderr);
    }
    // Other settings for a migrated table: refused, then recorded on purpose.
    const refused = await cli(['migrate'], { ...notesEnv, EMBEDSYNC_INDEX: 'hnsw' }).done;
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /EMBEDSYNC_INDEX: recorded ivfflat, configured hnsw[\s\S]*--update-settings/);
    const dry = await cli(['migrate', '--dry-run'], { ...notesEnv, EMBEDSYNC_INDEX: 'hnsw' }).done;
    assert.match(dry.stdout, /settings differ, EMBEDSYNC_INDEX/);
    const updated = await cli(['migrate', '--update-settings'], { ...notesEnv, EMBEDSYNC_INDEX: 'hnsw' }).done;
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /recorded new setting EMBEDSYNC_INDEX: recorded ivfflat, configured hnsw/);

    const port = await freePort();
    // No per-table settings: the run takes them from what migrate recorded.
    run = cli(['run'], { ...env, EMBEDSYNC_TABLE: '*', PORT: String(port), HOST: '127.0.0.1' });
    const done = async (table: string) =>
      (await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE embedding IS NULL`)).rows[0].n === 0;
    await waitFor('both tables embedded', async () => (await done('leads')) && (await done('notes')), 20_000, 100);

    const res = await fetch(`http://127.0.0.1:${port}/status`);
    assert.equal(res.status, 200);
    const viaHttp = await res.json() as { tables: { table: string; rows: { current: number } }[] };
    assert.deepEqual(viaHttp.tables.map((t) => [t.table, t.rows.current]), [['public.leads', 12], ['public.notes', 8]]);
    const metrics = await waitFor('gauges of both tables', async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return text.includes('embedsync_queue_depth{source="public.leads"}') && text.includes('embedsync_queue_depth{source="public.notes"}')
        ? text : undefined;
    }, 5000, 100);
    assert.match(metrics, /embedsync_deadletter_rows\{source="public\.notes"\} 0/);

    // The OpenAI route's model field picks among the loaded models, and names them when asked for another.
    const models = await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json() as { data: { id: string }[] };
    assert.ok(models.data.some((m) => m.id === variants.other) && models.data.some((m) => m.id === TINY_MODEL_DIR));
    const stored = (await pool.query<{ e: string; c: string }>(
      `SELECT embedding::text AS e, model_checksum AS c FROM notes WHERE body = 'note 3'`)).rows[0]!;
    const leadsChecksum = (await pool.query<{ c: string }>('SELECT DISTINCT model_checksum AS c FROM leads')).rows[0]!.c;
    assert.notEqual(stored.c, leadsChecksum, 'notes embedded by its own model');
    const post = (model: string) => fetch(`http://127.0.0.1:${port}/v1/embeddings`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'note 3', model }) });
    const picked = await (await post(variants.other)).json() as { model: string; data: { embedding: number[] }[] };
    assert.equal(picked.model, variants.other);
    const vec = JSON.parse(stored.e) as number[];
    picked.data[0]!.embedding.forEach((x, i) => assert.ok(Math.abs(x - vec[i]!) < 1e-5, `component ${i}`));
    const dflt = await (await post(TINY_MODEL_DIR)).json() as { model: string; data: { embedding: number[] }[] };
    assert.equal(dflt.model, TINY_MODEL_DIR);
    assert.ok(dflt.data[0]!.embedding.some((x, i) => Math.abs(x - vec[i]!) > 1e-3), 'another model, another vector');
    const unknown = await post('text-embedding-3-small');
    assert.equal(unknown.status, 400);
    assert.match((await unknown.json() as { error: { message: string } }).error.message,
      /not loaded here; loaded models: .*tiny-roberta.*tiny-h64-s12/);
    // The native routes take the same field.
    const native = (body: object, path = '/embed') => fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const one = await (await native({ text: 'note 3', role: 'document', model: variants.other })).json() as {
      model_checksum: string; embedding: number[];
    };
    assert.equal(one.model_checksum, stored.c);
    one.embedding.forEach((x, i) => assert.ok(Math.abs(x - vec[i]!) < 1e-5));
    const batch = await (await native({ items: [{ id: 'a', text: 'note 3' }], role: 'document', model: variants.other }, '/embed/batch'))
      .json() as { model_checksum: string };
    assert.equal(batch.model_checksum, stored.c);
    assert.equal((await (await native({ text: 'x' })).json() as { model_checksum: string }).model_checksum, leadsChecksum,
      'the configured model by default');
    // POST /search embeds the query with the model of the table it searches, whichever model the process was given.
    const found = await native({ query: 'note 3', table: 'notes', k: 3 }, '/search');
    assert.equal(found.status, 200, await found.clone().text());
    assert.equal((await found.json() as { model_checksum: string }).model_checksum, stored.c);
    const nope = await native({ text: 'x', model: 'nope' });
    assert.equal(nope.status, 400);
    assert.match((await nope.json() as { detail: string }).detail, /model "nope" is not loaded here; loaded models: /);

    const status = await cli(['status', '--json'], { ...env, EMBEDSYNC_TABLE: '*' }).done;
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual((JSON.parse(status.stdout) as { tables: { table: string }[] }).tables.map((t) => t.table),
      ['public.leads', 'public.notes']);
    const listed = await cli(['status'], { ...env, EMBEDSYNC_TABLE: 'leads,missing' }).done;
    assert.match(listed.stdout, /table +public\.leads[\s\S]*public\.missing: not migrated/);
    const doctor = await cli(['doctor', '--no-model'], { ...env, EMBEDSYNC_TABLE: '*' }).done;
    assert.match(doctor.stdout, /✔ public\.leads triggers +3 embedsync triggers .*\(inserts: the daemons' watch, no INSERT trigger\)/);
    assert.match(doctor.stdout, /✔ public\.notes triggers +3 embedsync triggers/);

    // remove while run serves the table: nothing of it left; the other table is still served.
    const plan = await cli(['remove', 'notes', '--dry-run'], env).done;
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /would drop triggers: notes_del, notes_trunc, notes_upd/);
    const removed = await cli(['remove', 'notes', '--drop-columns'], env).done;
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /dropped columns embedding, model_checksum, embedding_text_hash, embedded_at/);
    await pool.query(`INSERT INTO notes (body) VALUES ('after')`);
    await pool.query(`UPDATE notes SET body = body || '!'`);
    await pool.query('DELETE FROM notes WHERE id = 1');
    await pool.query('TRUNCATE notes');
    assert.equal((await pool.query(`SELECT 1 FROM embedsync.queue WHERE source = 'public.notes'`)).rowCount, 0);
    const ins = await pool.query<{ id: string }>(`INSERT INTO leads (title) VALUES ('still served') RETURNING id`);
    await waitFor('leads still embedded',
      async () => (await pool.query('SELECT 1 FROM leads WHERE id = $1 AND embedding IS NOT NULL', [ins.rows[0]!.id])).rowCount === 1,
      10_000);
    const after = await waitFor('status without notes', async () => {
      const r = await (await fetch(`http://127.0.0.1:${port}/status`)).json() as { tables: { table: string }[] };
      return r.tables.length === 1 ? r : undefined;
    }, 5000, 100);
    assert.equal(after.tables[0]!.table, 'public.leads');
    assert.doesNotMatch(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /source="public\.notes"/,
      'a removed table reports no gauges');

    run.child.kill('SIGTERM');
    const ran = await run.done;
    assert.equal(ran.code, 0, ran.stderr);
  } finally {
    if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
    await pool.end();
    await db.drop();
  }
});
