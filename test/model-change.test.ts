// Model changes of the same dimension keep search answering: old vectors serve until the new ones are
// complete, then one swap. Daemons on the replaced model learn of it at once, say so, turn /ready to 503,
// export it, write nothing (the write statement refuses them), and exit when told to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { createLogger } from '../src/log/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { runService } from '../src/cli/run.ts';
import { ModelChangedError } from '../src/sync/model-watch.ts';
import type { SyncDaemon } from '../src/sync/daemon.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { nextColumns, withColumns } from '../src/db/model-state.ts';
import { queueOps, vectorTypeOid } from '../src/queue/queue.ts';
import { setupMigrateDb } from './helpers/migrate-db.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';
import { logged, waitFor } from './helpers/sync.ts';
import { drainChanges } from '../src/queue/change-log.ts';

const variants = modelVariantsForTests({ sibling: { hidden: 64, seed: 8 } });

const ENV = { EMBEDSYNC_INDEX_MIN_ROWS: '100' };

interface Reading { readonly fn: string; readonly rows: number; readonly models: string }

/**
 * similar_to(id, 5) through both function names in a loop on its own connection; which model each row is by.
 * more(n): resolves once n more readings are in, so a phase of the migration is read, however slow the machine.
 */
function readerLoop(url: string): { more(n: number): Promise<void>; stop(): Promise<Reading[]> } {
  const out: Reading[] = [];
  let stopping = false;
  const c = new pg.Client({ connectionString: url });
  const done = (async () => {
    await c.connect();
    while (!stopping) {
      for (const fn of ['embedsync.similar_to', 'embedsync.leads_similar_to']) {
        const r = await c.query<{ n: number; models: string | null }>(
          `SELECT count(*)::int AS n, string_agg(DISTINCT l.model_checksum, ',') AS models ` +
          `FROM ${fn}(17, 5) s JOIN leads l ON l.id = s.id`);
        out.push({ fn, rows: r.rows[0]!.n, models: r.rows[0]!.models ?? '' });
      }
    }
    await c.end();
  })();
  return {
    async more(n) { const want = out.length + n; await waitFor(`${want} readings`, async () => out.length >= want, 10_000, 5); },
    async stop() { stopping = true; await done; return out; },
  };
}

test('a same-dimension migrate while an old-model daemon runs: similar_to(id, 5) returns 5 rows of one model on every call, ' +
  'then the swap', async () => {
  const rows = 400;
  const t = await setupMigrateDb(rows, ENV);
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    const c = await t.encoder(variants.sibling);
    assert.equal(a.info.dimensions, c.info.dimensions);
    await t.migrate({ encoder: a });
    await t.embedAll(a);
    const oldDaemon = await t.startDaemon(a);
    const readers = readerLoop(t.db.url);
    await readers.more(6); // read before the migration starts
    const r = await t.migrate({
      encoder: c, chunkSize: 50,
      fault: async (point) => {
        // Users edit rows mid-migration; the old daemon keeps the current column up to date meanwhile.
        if (point === 'mid-backfill') {
          await t.pool.query(`UPDATE leads SET title = title || ' (edited)' WHERE id % 40 = 3`);
          await waitFor('edited rows re-embedded by the old daemon', async () => (await t.pool.query(
            `SELECT 1 FROM leads WHERE id % 40 = 3 AND embedding_text_hash IS DISTINCT FROM
               md5(concat_ws('. ', nullif(btrim(title), ''), nullif(btrim(description), '')))::uuid`)).rowCount === 0, 10_000);
        }
        // Read in both states: some rows in the shadow columns, then the new index built.
        if (point === 'mid-backfill' || point === 'after-index') await readers.more(4);
      },
    });
    await readers.more(4); // read after the swap
    const readings = await readers.stop();
    assert.equal(r.handled, true, 'a same-dimension change runs the shadow migration');
    assert.deepEqual(r.shadow!.steps.map((s) => s.step), ['started', 'columns', 'backfilled', 'indexed', 'swapped', 'done']);
    assert.match(r.lines.join('\n'), new RegExp('next: restart every daemon serving public\\.leads with ' +
      `EMBEDDING_MODEL=${variants.sibling.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; daemons still on ${a.info.checksum} write nothing`));

    assert.ok(readings.length > 20, `readers ran throughout (${readings.length} readings)`);
    const short = readings.filter((x) => x.rows !== 5);
    assert.deepEqual(short, [], 'every call returned 5 rows');
    const mixed = readings.filter((x) => x.models !== a.info.checksum && x.models !== c.info.checksum);
    assert.deepEqual(mixed, [], 'every call returned rows of one model');
    const firstNew = readings.findIndex((x) => x.models === c.info.checksum);
    assert.ok(firstNew > 4, 'the old vectors answered before the swap');
    assert.ok(readings.slice(firstNew).every((x) => x.models === c.info.checksum), 'and the new ones after it, never back');

    await oldDaemon.stop();
    const st = await t.pool.query<{ model_checksum: string }>("SELECT model_checksum FROM embedsync.state WHERE source = 'public.leads'");
    assert.equal(st.rows[0]!.model_checksum, c.info.checksum);
    const cols = await t.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'leads'::regclass AND attname LIKE '%\\_next' AND NOT attisdropped");
    assert.equal(cols.rows[0]!.n, 0, 'the shadow columns are gone after the swap');
  } finally {
    await t.close();
  }
});

/** The encoder for a service that closes it on the way out, while the test still needs it. */
function borrowed(e: Encoder): Encoder {
  return {
    info: e.info, encode: (...args) => e.encode(...args), close: async () => undefined,
    get pace() { return e.pace; }, get scheduler() { return e.scheduler; }, get availability() { return e.availability; },
    get folder() { return e.folder; },
  };
}

/** A logger whose JSON lines land in `lines`. */
function capturingLogger(lines: Record<string, unknown>[]) {
  return createLogger('info', new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  }));
}

test('a running daemon of the old model learns of the swap at once: warning with both checksums, /ready 503, metric, no writes; ' +
  'EXIT_ON_MODEL_CHANGE exits', async () => {
  const t = await setupMigrateDb(120, ENV);
  const stopA = new AbortController();
  const stopB = new AbortController();
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    const c = await t.encoder(variants.sibling);
    await t.migrate({ encoder: a });
    await t.embedAll(a);

    // A: HTTP + sync, stays up. B: sync only, told to exit. Long poll intervals: only the NOTIFY can be quick.
    const slow = { EMBEDSYNC_POLL_INTERVAL_MS: '60000', PORT: '0', HOST: '127.0.0.1' };
    const logA: Record<string, unknown>[] = [];
    const metrics = createMetrics({ defaultMetrics: false });
    let daemonA: SyncDaemon | undefined;
    const runningA = runService({
      config: t.config(TINY_MODEL_DIR, slow), sync: true, http: true, signal: stopA.signal, logger: capturingLogger(logA), metrics,
      loadEncoder: async () => borrowed(a), onSyncDaemon: (d) => { daemonA = d; },
    });
    runningA.catch(() => undefined);
    const runningB = runService({
      config: t.config(TINY_MODEL_DIR, { ...slow, EMBEDSYNC_EXIT_ON_MODEL_CHANGE: 'true' }), sync: true, http: false, signal: stopB.signal,
      logger: createLogger('silent'), loadEncoder: async () => borrowed(a),
    });
    let bOutcome: unknown;
    const bSettled = runningB.then(() => { bOutcome = 'resolved'; }, (err: unknown) => { bOutcome = err; });
    const address = (await waitFor('A listening', async () => logA.find((l) => l.event === 'http_listening'))).address as string;
    await waitFor('A syncing', async () => logA.find((l) => l.event === 'sync_started'));
    assert.equal((await fetch(`${address}/ready`)).status, 200);
    assert.match(await metrics.registry.metrics(), /embedsync_model_mismatch\{source="public.leads"\} 0/);
    await waitFor('per-table queue gauge',
      async () => /embedsync_queue_depth\{source="public.leads"\} 0/.test(await metrics.registry.metrics()));

    // The old daemon still embeds while nothing has changed.
    await t.pool.query(`UPDATE leads SET title = 'до смены модели' WHERE id = 3`);
    await waitFor('row 3 re-embedded by A', async () => (await t.pool.query(
      `SELECT 1 FROM leads WHERE id = 3 AND embedding_text_hash = md5(concat_ws('. ', title, description))::uuid`)).rowCount === 1, 10_000);

    await t.migrate({ encoder: c });
    const swappedAt = performance.now();
    const warning = await waitFor('mismatch warning', async () => logA.find((l) => l.event === 'model_mismatch'), 3000, 10);
    const noticedMs = performance.now() - swappedAt;
    assert.ok(noticedMs < 2000, `noticed ${noticedMs.toFixed(0)} ms after migrate returned (poll interval 60 s)`);
    assert.equal(warning.level, 40, 'a warning');
    assert.equal(warning.recorded, c.info.checksum);
    assert.equal(warning.running, a.info.checksum);
    assert.match(String(warning.msg), new RegExp(`${c.info.checksum}.*${a.info.checksum}`));
    assert.ok(logA.some((l) => l.event === 'model_migration' && l.target === c.info.checksum), 'the migration start was announced too');

    const ready = await fetch(`${address}/ready`);
    assert.equal(ready.status, 503);
    const body = await ready.json() as { status: string; detail: string };
    assert.equal(body.status, 'model_mismatch');
    assert.match(body.detail, new RegExp(`embedded by .* \\(${c.info.checksum}\\) but this daemon runs ${a.info.checksum}`));
    assert.match(await metrics.registry.metrics(), /embedsync_model_mismatch\{source="public.leads"\} 1/);

    // B exits with the reason; A stays up and writes nothing.
    await waitFor('B exited', async () => bOutcome !== undefined, 3000, 10);
    assert.ok(bOutcome instanceof ModelChangedError, `B rejected with ModelChangedError, got ${String(bOutcome)}`);
    assert.match((bOutcome as Error).message, /EMBEDSYNC_EXIT_ON_MODEL_CHANGE/);
    const before = (await t.pool.query<{ e: string; c: string }>(
      'SELECT embedding::text AS e, model_checksum AS c FROM leads WHERE id = 5')).rows[0]!;
    await t.pool.query(`UPDATE leads SET title = 'после смены модели' WHERE id = 5`);
    // A writes nothing, which leaves nothing to wait for: one look and one claim by each of its loops, begun after
    // the update, and awaited; a claim of row 5 would have happened in it.
    await (await waitFor('A\'s daemon', async () => daemonA)).pass();
    const afterRow = (await t.pool.query<{ e: string; c: string }>(
      'SELECT embedding::text AS e, model_checksum AS c FROM leads WHERE id = 5')).rows[0]!;
    assert.deepEqual(afterRow, before, 'the old daemon did not write');
    const queued = await t.pool.query<{ lease_owner: string | null; claims: number; attempts: number }>(
      "SELECT lease_owner, claims, attempts FROM embedsync.queue WHERE source = 'public.leads' AND id = '5'");
    // The edit waits for a daemon of the new model: in the change log, or in the queue (where the migration may
    // have put row 5 already), and never claimed.
    const inLog = await logged(t.pool);
    assert.ok(queued.rows.length + inLog >= 1 && inLog <= 1, `the edit is in the change log or the queue (log ${inLog})`);
    assert.ok(queued.rows.every((r) => r.lease_owner === null && r.claims === 0 && r.attempts === 0),
      `nor claim or dequeue: ${JSON.stringify(queued.rows)}`);

    stopA.abort();
    await runningA;
    await bSettled;
  } finally {
    stopA.abort();
    stopB.abort();
    await t.close();
  }
});

test('the write statement refuses a model other than the recorded one, and the shadow columns outside a migration to it', async () => {
  const t = await setupMigrateDb(20, ENV);
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: a });
    await t.embedAll(a);
    const info = await inspectSource(t.pool, t.config(TINY_MODEL_DIR).source);
    const oid = await vectorTypeOid(t.pool);
    const ops = queueOps(t.pool, info.sql, oid);
    await t.pool.query(`UPDATE leads SET title = 'изменено' WHERE id IN (2, 3)`);
    await drainChanges(t.pool, info.sql, 100);
    const claimed = await ops.claim(10, 'rogue', 30);
    assert.deepEqual(claimed.map((x) => x.id).sort(), ['2', '3']);
    const [doc] = await ops.readDocuments(['2'], a.info.checksum);
    const vector = new Float32Array(a.info.dimensions).fill(0.1);
    const before = await t.pool.query('SELECT id, embedding::text, model_checksum, embedding_text_hash FROM leads ORDER BY id');

    const refused55000 = (writer: string) => (err: Error & { code?: string }) =>
      err.code === '55000' && err.message === `embedsync refused the write of model ${writer} to public.leads, ` +
        `whose recorded model is ${a.info.checksum} (${TINY_MODEL_DIR}) (SQLSTATE 55000)`;
    const refused = refused55000('0123456789abcdef');
    // A vector, a row finished as unchanged, and a batch of nothing but finished rows: all refused.
    await assert.rejects(ops.write([{ id: '2', hash: doc!.hash, vector }], ['3'], claimed, '0123456789abcdef'), refused);
    await assert.rejects(ops.write([], ['2', '3'], claimed, '0123456789abcdef'), refused);
    await assert.rejects(ops.write([], [], [], '0123456789abcdef'), refused);
    // During a migration to c (cut short after adding the shadow columns): the shadow columns take only c,
    // the main ones still only the recorded model.
    const c = await t.encoder(variants.sibling);
    await assert.rejects(t.migrate({ encoder: c, fault: (p) => { if (p === 'after-columns') throw new Error('stop here'); } }),
      /stop here/);
    const shadow = queueOps(t.pool, withColumns(info.sql, nextColumns(t.config(TINY_MODEL_DIR).source)), oid);
    const refusedShadow = (err: Error & { code?: string }) =>
      err.code === '55000' && /migration columns of public\.leads, which take model/.test(err.message);
    await assert.rejects(shadow.write([{ id: '2', hash: doc!.hash, vector }], [], claimed, a.info.checksum), refusedShadow);
    await assert.rejects(ops.write([{ id: '2', hash: doc!.hash, vector }], [], claimed, c.info.checksum), refused55000(c.info.checksum));

    const afterRows = await t.pool.query('SELECT id, embedding::text, model_checksum, embedding_text_hash FROM leads ORDER BY id');
    const shadowRows = await t.pool.query(
      'SELECT count(*)::int AS n FROM leads WHERE embedding_next IS NOT NULL OR model_checksum_next IS NOT NULL');
    assert.equal(shadowRows.rows[0]!.n, 0, 'nothing written to the shadow columns');
    assert.deepEqual(afterRows.rows, before.rows, 'nothing written');
    const q = await t.pool.query("SELECT id FROM embedsync.queue WHERE source = 'public.leads' ORDER BY id");
    assert.deepEqual(q.rows.map((r) => r.id), ['2', '3'], 'nothing dequeued');

    // The recorded model writes the main columns as before, the target model the shadow ones.
    const ok = await ops.write([{ id: '2', hash: doc!.hash, vector }], ['3'], claimed, a.info.checksum);
    assert.deepEqual(ok.written, ['2']);
    const okShadow = await shadow.write([{ id: '4', hash: (await ops.readDocuments(['4'], c.info.checksum))[0]!.hash, vector }], [], [],
      c.info.checksum);
    assert.deepEqual(okShadow.written, ['4']);

    // The next migrate resumes the same-dimension migration where it stopped.
    const resumed = await t.migrate({ encoder: c });
    assert.equal(resumed.handled, true);
    assert.match(resumed.lines.join('\n'), /, resumed after step columns/);
    assert.equal(resumed.shadow!.encoded, 19, 'row 4 already held its new vector');
  } finally {
    await t.close();
  }
});
