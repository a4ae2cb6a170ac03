// `embedsync run` with OTEL_EXPORTER_OTLP_ENDPOINT set, as a real process against real Postgres and the tiny
// model: a changed row yields one batch trace (claim, read, encode, write under the batch span), an HTTP request
// yields a server span continuing the caller's trace with its encode as a child, log lines carry the trace id,
// SIGTERM flushes the spans before exiting 0, and /metrics has samples for the series the dashboard plots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { setupSyncDb, TEST_ENV, waitFor } from './helpers/sync.ts';

interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

async function startCollector() {
  const spans: OtlpSpan[] = [];
  const services = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const rs of body.resourceSpans ?? []) {
        for (const a of rs.resource?.attributes ?? []) if (a.key === 'service.name') services.add(a.value.stringValue);
        for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    spans, services, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v ? (v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue)) : undefined;
};

test('the daemon traces sync batches and HTTP requests, puts trace ids in its logs and feeds the dashboard series', async () => {
  const t = await setupSyncDb();
  const collector = await startCollector();
  const child = spawn(process.execPath, ['bin/embedsync.js', 'run'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, ...TEST_ENV,
      DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1',
      HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => { try { lines.push(JSON.parse(l)); } catch { /* not a log line */ } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const remoteTrace = '0af7651916cd43dd8448eb211c80319c';
  const remoteParent = 'b7ad6b7169203331';
  let metricsText = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const listening = await waitFor('http_listening', async () => lines.find((l) => l.event === 'http_listening'), 20_000, 50);
    const base = String(listening.address);
    await waitFor('sync_started', async () => lines.some((l) => l.event === 'sync_started'), 20_000, 50);
    await waitFor('/ready', async () => (await fetch(`${base}/ready`)).ok, 20_000, 50);

    const { rows } = await t.pool.query<{ id: string }>(
      `INSERT INTO leads (title, description) VALUES ('Дом у озера', 'баня, участок') RETURNING id`);
    await waitFor('embedding written', async () =>
      (await t.pool.query('SELECT 1 FROM leads WHERE id = $1 AND embedding IS NOT NULL', [rows[0]!.id])).rowCount, 5000);

    const res = await fetch(`${base}/embed`, {
      method: 'POST', headers: { 'content-type': 'application/json', traceparent: `00-${remoteTrace}-${remoteParent}-01` },
      body: JSON.stringify({ text: 'дом с баней' }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    // Idle polls every 200 ms meanwhile: they must not produce batch traces.
    await new Promise((r) => setTimeout(r, 600));
    metricsText = await (await fetch(`${base}/metrics`)).text();

    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await collector.close();
    await t.close();
  }

  const spans = collector.spans;
  assert.deepEqual([...collector.services], ['embedsync']);
  const batches = spans.filter((s) => s.name === 'embedsync.batch');
  assert.equal(batches.length, 1, `one batch for one changed row (got ${batches.length}); idle polls are not traced`);
  const batch = batches[0]!;
  assert.ok(!batch.parentSpanId);
  assert.equal(attr(batch, 'embedsync.rows'), 1);
  const children = spans.filter((s) => s.parentSpanId === batch.spanId);
  assert.deepEqual(children.map((s) => s.name).sort(), ['embedsync.claim', 'embedsync.encode', 'embedsync.read', 'embedsync.write']);
  assert.ok(children.every((s) => s.traceId === batch.traceId));
  assert.equal(attr(children.find((s) => s.name === 'embedsync.write')!, 'embedsync.written'), 1);

  const server = spans.find((s) => s.kind === 2 && s.name === 'POST /embed');
  assert.ok(server, `a server span for POST /embed among ${spans.map((s) => s.name).join(', ')}`);
  assert.equal(server.traceId, remoteTrace);
  assert.equal(server.parentSpanId, remoteParent);
  assert.equal(attr(server, 'http.response.status_code'), 200);
  const httpEncode = spans.find((s) => s.name === 'embedsync.encode' && s.parentSpanId === server.spanId);
  assert.ok(httpEncode, 'the request\'s encode is a child of its server span');
  assert.ok(lines.some((l) => l.trace_id === remoteTrace), 'log lines written while serving the request carry its trace id');

  // After one synced row and one request, the series the dashboard plots have samples.
  const samples = metricsText.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(l)!;
    return { name: m[1]!, labels: m[2] ?? '', value: Number(m[3]) };
  });
  const value = (name: string, labels = '') =>
    samples.filter((x) => x.name === name && x.labels.includes(labels)).reduce((a, x) => a + x.value, 0);
  const present = (name: string) => samples.some((x) => x.name === name);
  assert.equal(value('embedding_model_loaded'), 1);
  assert.ok(value('embedsync_rows_embedded_total') >= 1);
  assert.ok(value('embedsync_change_to_embedding_seconds_count') >= 1);
  assert.ok(value('embedsync_encode_seconds_count', 'source="sync"') >= 1);
  assert.ok(value('embedsync_encode_seconds_count', 'source="http"') >= 1);
  assert.ok(value('embedsync_tokens_total') >= 1);
  assert.ok(value('embedding_requests_total', 'status="200"') >= 1);
  assert.ok(value('embedding_request_latency_seconds_count') >= 1);
  assert.ok(value('embedding_cache_misses_total') >= 1);
  for (const name of [
    'embedsync_queue_depth', 'embedsync_oldest_queued_seconds', 'embedsync_deadletter_rows', 'embedding_cache_hits_total',
    'process_resident_memory_bytes',
  ]) {
    assert.ok(present(name), `${name} has a sample`);
  }
});
