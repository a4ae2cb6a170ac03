// Chunked tables through their life: a dimension change keeps chunk search answering; switching chunking on
// re-embeds rows in chunks, status counts them, the verification restores lost chunks, remove takes them; a
// remote backend is refused at start-up; a chunked table beside an unchunked one in one process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { chunkerFor } from '../src/encoder/chunking-encoder.ts';
import { pruneChunks, verifyChunks } from '../src/db/chunk-table.ts';
import { readRecordedSource } from '../src/db/source-settings.ts';
import { loadConfig } from '../src/config/index.ts';
import { getSyncStatus } from '../src/sync/status.ts';
import { formatStatus } from '../src/cli/status.ts';
import { remove } from '../src/cli/remove.ts';
import { finishMigrate, migrate } from '../src/migration/migrate.ts';
import { createEncoder } from '../src/encoder/index.ts';
import { createClient } from '../src/db/pool.ts';
import { createLogger } from '../src/log/index.ts';
import { createEncoderShelf } from '../src/sync/encoder-shelf.ts';
import { startSupervisor } from '../src/sync/supervisor.ts';
import { sourceSql } from '../src/db/source-sql.ts';
import { doctorCheck, PLPGSQL_UPDATES_AVAILABLE } from './helpers/doctor.ts';
import { setupMigrateDb } from './helpers/migrate-db.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';
import { CHUNKED, chunksOfRow, insertLead, longText, vec } from './helpers/chunks.ts';
import { parseVector, setupSyncDb, TEST_ENV, waitFor } from './helpers/sync.ts';
import { FULL_SUITE_ONLY } from './helpers/tier.ts';

const variants = modelVariantsForTests({ small: { hidden: 48, seed: 7 } });

test('a dimension change of a chunked table: chunk search answers throughout, then from the new model\'s chunks', async () => {
  const t = await setupMigrateDb(40, CHUNKED);
  try {
    const oldEnc = await t.encoder(TINY_MODEL_DIR);
    const newEnc = await t.encoder(variants.small);
    await t.migrate({ encoder: oldEnc });
    const id = await insertLead(t, 'Transcript', longText(70));
    await t.embedAll(oldEnc);
    const before = await chunksOfRow(t.pool, id);
    assert.ok(before.length >= 3);

    // Readers query with a vector of the model the state records, as an application would.
    let stop = false;
    const failures: string[] = [];
    const answers: number[] = [];
    const reader = (async () => {
      const c = new pg.Client({ connectionString: t.db.url });
      await c.connect();
      const probes = new Map<string, string>();
      try {
        while (!stop) {
          const st = (await c.query<{ model_checksum: string }>("SELECT model_checksum FROM embedsync.state WHERE source = 'public.leads'"))
            .rows[0]!;
          const e = st.model_checksum === oldEnc.info.checksum ? oldEnc : newEnc;
          let q = probes.get(e.info.checksum);
          if (!q) probes.set(e.info.checksum, q = vec((await e.encode(['warehouse delivery contract'], 'query')).vectors[0]!));
          try {
            const r = await c.query('SELECT id FROM embedsync.leads_search_chunks($1::vector, 5)', [q]);
            const s = await c.query('SELECT id FROM embedsync.leads_search($1::vector, 5)', [q]);
            answers.push(Math.min(r.rowCount ?? 0, s.rowCount ?? 0));
          } catch (err) {
            // The state moved between reading it and querying: a query of the old dimension is refused by name.
            if (!/query vector has \d+ dimensions/.test((err as Error).message)) failures.push((err as Error).message);
          }
        }
      } finally {
        await c.end();
      }
    })();
    const r = await t.migrate({ encoder: newEnc });
    // Queries after the swap, with the new model's vector: the one in flight at the return may still be an old one.
    const want = answers.length + 3;
    await waitFor('answers after the swap', async () => answers.length >= want, 10_000, 5);
    stop = true;
    await reader;
    assert.equal(r.handled, true);
    assert.deepEqual(failures, []);
    assert.ok(answers.length > 5 && answers.every((n) => n === 5), `every query answered with 5 rows (${answers.length} queries)`);

    // The backfill wrote the new model's chunks; the old model's go with the prune.
    const after = await chunksOfRow(t.pool, id);
    const byNew = after.filter((c) => c.model_checksum === newEnc.info.checksum);
    assert.deepEqual(byNew.map((c) => c.chunk_text), before.map((c) => c.chunk_text));
    assert.equal(parseVector(byNew[0]!.embedding).length, 48);
    const s = sourceSql(t.config(variants.small, CHUNKED).source, 'bigint');
    await pruneChunks(t.pool, s);
    assert.ok((await chunksOfRow(t.pool, id)).every((c) => c.model_checksum === newEnc.info.checksum));
    const q = vec((await newEnc.encode([byNew[1]!.chunk_text], 'document')).vectors[0]!);
    const hit = (await t.pool.query<{ id: string; chunk: number }>(
      'SELECT id::text, chunk FROM embedsync.leads_search_chunks($1::vector, 1)', [q])).rows[0]!;
    assert.deepEqual(hit, { id, chunk: 1 });
  } finally {
    await t.close();
  }
});

test('switching a table to chunking re-embeds its rows in chunks; status counts them; the verification restores lost chunks; ' +
  'remove takes it all', FULL_SUITE_ONLY, async () => {
  const t = await setupMigrateDb(20);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    await t.embedAll(enc);
    // A settings change is refused unless asked for, then recorded with the table's other settings.
    await assert.rejects(t.migrate({ encoder: enc, env: CHUNKED }), /EMBEDSYNC_CHUNKING: recorded none, configured tokens/);
    await t.migrate({ encoder: enc, env: CHUNKED, updateSettings: true });
    const rec = await readRecordedSource(t.pool, 'public.leads');
    assert.deepEqual([rec!.source.chunking, rec!.source.chunkTokens, rec!.source.chunkOverlap], ['tokens', undefined, 40]);
    // A daemon configured without chunking would leave old chunks behind: refused, naming the setting.
    await assert.rejects(t.startDaemon(enc), /EMBEDSYNC_CHUNKING: recorded tokens, configured none/);
    const d = await t.startDaemon(enc, CHUNKED);
    const count = async () =>
      (await t.pool.query<{ n: number }>('SELECT count(DISTINCT id)::int AS n FROM embedsync.leads_chunks')).rows[0]!.n;
    await waitFor('every row chunked', async () => (await count()) === 20, 20_000, 50);
    const config = t.config(TINY_MODEL_DIR, CHUNKED);
    const st = await getSyncStatus(t.pool, config.source, { exact: true });
    assert.deepEqual(st.chunks, { chunks: 20, rows: 20, estimated: false });
    assert.match(formatStatus(st), /^chunks {9}20 of 20 rows \(1\.0 a row\)$/m);

    // Chunks lost behind embedsync's back: the verification's end queues their rows again.
    await t.pool.query('DELETE FROM embedsync.leads_chunks WHERE id IN (3, 4)');
    const s = sourceSql(config.source, 'bigint');
    assert.deepEqual(await verifyChunks(t.pool, s), { restaled: 2, pruned: 0 });
    await waitFor('chunks back', async () => (await count()) === 20, 20_000, 50);
    await d.stop();

    // doctor counts the chunk triggers among the table's own.
    assert.deepEqual(await doctorCheck(config, 'triggers'), {
      ok: true, name: 'triggers',
      found: `5 embedsync triggers enabled on "public"."leads" (inserts: the daemons' watch, no INSERT trigger)` +
        PLPGSQL_UPDATES_AVAILABLE,
    });

    // A large chunk table (chunks of rows made up here, past 1,000 pages) is estimated unless --exact.
    await t.pool.query(`INSERT INTO embedsync.leads_chunks (id, chunk, chunk_text, embedding, model_checksum)
      SELECT 100000 + g, 0, repeat('x', 400), (SELECT embedding FROM embedsync.leads_chunks LIMIT 1), $1
      FROM generate_series(1, 20000) g`, [enc.info.checksum]);
    await t.pool.query('ANALYZE embedsync.leads_chunks');
    const big = await getSyncStatus(t.pool, config.source);
    assert.equal(big.chunks!.estimated, true);
    assert.equal(big.chunks!.rows, null);
    assert.ok(Math.abs(big.chunks!.chunks - 20_020) < 1000, `estimated ${big.chunks!.chunks}`);
    assert.match(formatStatus(big), /^chunks {9}~\d+ \(estimated; --exact counts them and their rows\)$/m);
    assert.deepEqual((await getSyncStatus(t.pool, config.source, { exact: true })).chunks,
      { chunks: 20_020, rows: 20_020, estimated: false });

    await remove({ config });
    const left = await t.pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM pg_class WHERE relname = 'leads_chunks')::int
        + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'leads_%chunk%')::int
        + (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'leads_chunk%')::int AS n`);
    assert.equal(left.rows[0]!.n, 0, 'no chunk table, function or trigger left');
  } finally {
    await t.close();
  }
});

test('chunking needs the local tokenizer: a remote backend is refused at start-up, naming the setting', () => {
  assert.throws(() => loadConfig({ EMBEDSYNC_CHUNKING: 'tokens', EMBEDDING_BACKEND: 'tei', EMBEDDING_ENDPOINT: 'http://127.0.0.1:1' }),
    /EMBEDSYNC_CHUNKING=tokens counts tokens with the model's own tokenizer, which runs with EMBEDDING_BACKEND=local only/);
  assert.throws(() => loadConfig({ EMBEDSYNC_CHUNKING: 'tokens', EMBEDSYNC_CHUNK_TOKENS: '100', EMBEDSYNC_CHUNK_OVERLAP: '60' }),
    /EMBEDSYNC_CHUNK_OVERLAP \(60\) must be at most half/);
  assert.throws(() => loadConfig({ EMBEDSYNC_CHUNKING: 'sentences' }), /EMBEDSYNC_CHUNKING/);
});

test('several tables in one process: a chunked table beside an unchunked one, each served as migrate recorded it', async () => {
  const t = await setupSyncDb();
  const shelf = createEncoderShelf(async (m) => createEncoder(loadConfig({ EMBEDDING_MODEL: m, EMBEDDING_THREADS: '1' }).model));
  let supervisor: Awaited<ReturnType<typeof startSupervisor>> | undefined;
  try {
    await t.pool.query('CREATE TABLE notes (id serial PRIMARY KEY, body text)');
    const configOf = (table: string, columns: string, env: Record<string, string> = {}) => loadConfig({
      ...TEST_ENV, ...env, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TABLE: table, EMBEDSYNC_TEXT_COLUMNS: columns,
    });
    const leads = configOf('leads', 'title,description');
    const notes = configOf('notes', 'body', CHUNKED);
    for (const c of [leads, notes]) {
      await migrate({ config: c, model: t.encoder.info });
      await finishMigrate(c, t.encoder.info);
    }
    // The process is configured for no table in particular: each table's chunking comes from its record.
    supervisor = await startSupervisor({
      pool: t.pool, sync: leads.sync, logger: createLogger(process.env.EMBEDSYNC_TEST_LOG ?? 'silent'), encoders: shelf, tables: 'all',
      pollMs: 60_000, connectListener: () => createClient({ databaseUrl: t.db.url, applicationName: 'embedsync-listener' }),
    });
    const body = longText(50);
    await t.pool.query('INSERT INTO notes (body) VALUES ($1), ($2)', [body, 'A short note.']);
    await t.pool.query(`INSERT INTO leads (title, description) VALUES ('Flat', $1)`, [body]);
    const expected = chunkerFor(t.encoder, { tokens: undefined, overlap: 40 }).split(body);
    await waitFor('both tables synced', async () => {
      const n = await t.pool.query<{ chunks: number; leads: number }>(
        `SELECT (SELECT count(*) FROM embedsync.notes_chunks)::int AS chunks,
          (SELECT count(*) FROM leads WHERE embedding IS NOT NULL)::int AS leads`);
      return n.rows[0]!.chunks === expected.length + 1 && n.rows[0]!.leads === 1;
    }, 20_000, 50);
    const stored = (await t.pool.query<{ chunk_text: string }>('SELECT chunk_text FROM embedsync.notes_chunks WHERE id = 1 ORDER BY chunk'))
      .rows;
    assert.deepEqual(stored.map((r) => r.chunk_text), expected);
    assert.equal((await t.pool.query("SELECT 1 FROM pg_class WHERE relname = 'leads_chunks'")).rowCount, 0,
      'the unchunked table has no chunk table');
    const q = `[${(await t.encoder.encode([expected[2]!], 'document')).vectors[0]!.join(',')}]`;
    const hit = (await t.pool.query<{ id: number; chunk: number }>('SELECT id, chunk FROM embedsync.notes_search_chunks($1::vector, 1)',
      [q])).rows[0];
    assert.deepEqual(hit, { id: 1, chunk: 2 });
  } finally {
    await supervisor?.stop();
    await shelf.closeAll();
    await t.close();
  }
});
