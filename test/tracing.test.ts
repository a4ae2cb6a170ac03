// Tracing end to end: spans go through the real OpenTelemetry SDK and OTLP/HTTP exporter to a collector
// running in this process, which decodes the JSON export requests.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { pino } from 'pino';
import { PACKAGE_VERSION } from '../src/config/index.ts';
import {
  currentTraceId, installHttpTracing, isTracingEnabled, recordSpan, startTracing, traceLogFields, withSpan,
} from '../src/tracing/index.ts';

interface OtlpValue { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number }
interface OtlpAttr { key: string; value: OtlpValue }
interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number;
  startTimeUnixNano?: string | number; endTimeUnixNano?: string | number;
  attributes?: OtlpAttr[]; status?: { code?: number; message?: string }; events?: { name: string }[];
}
interface Received { spans: OtlpSpan[]; resources: Record<string, unknown>[]; headers: IncomingHttpHeaders[]; paths: string[] }

async function startCollector() {
  const received: Received = { spans: [], resources: [], headers: [], paths: [] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.paths.push(req.url ?? '');
      received.headers.push(req.headers);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const rs of body.resourceSpans ?? []) {
        received.resources.push(attrs(rs.resource?.attributes));
        for (const ss of rs.scopeSpans ?? []) received.spans.push(...(ss.spans ?? []));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { received, url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function attrs(list: OtlpAttr[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) {
    const v = a.value;
    out[a.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue;
  }
  return out;
}

function byName(spans: readonly OtlpSpan[], name: string): OtlpSpan {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `expected one span named ${name}, got ${found.length} among ${spans.map((s) => s.name).join(', ')}`);
  return found[0]!;
}

const collector = await startCollector();
after(() => collector.close());
// A failed assertion must not leave tracing on for the next test.
let running: { shutdown(): Promise<void> } | undefined;
afterEach(async () => { await running?.shutdown(); running = undefined; });

test('with no endpoint tracing is off and every call is a plain pass-through', async () => {
  const tracing = await startTracing({ endpoint: undefined, serviceName: 'embedsync', serviceVersion: PACKAGE_VERSION });
  assert.equal(tracing.enabled, false);
  assert.equal(isTracingEnabled(), false);
  let sawScope = false;
  const value = await withSpan('embedsync.batch', { rows: 3 }, async (span) => {
    span.setAttributes({ claimed: 3 });
    sawScope = true;
    assert.equal(currentTraceId(), undefined);
    assert.deepEqual(traceLogFields(), {});
    return 42;
  });
  assert.equal(value, 42);
  assert.ok(sawScope);
  await assert.rejects(withSpan('x', {}, async () => { throw new Error('boom'); }), /boom/);
  await tracing.shutdown();
  assert.equal(collector.received.spans.length, 0);
});

test('a batch span with claim, encode and write children arrives at the collector with its parent links', async () => {
  collector.received.spans.length = 0;
  const tracing = await startTracing({ endpoint: collector.url, serviceName: 'embedsync-test', serviceVersion: '9.9.9' });
  running = tracing;
  assert.equal(tracing.enabled, true);
  let traceIdInside: string | undefined;
  let logFieldsInside: Readonly<Record<string, string>> = {};
  // The claim happens before the batch is known to exist; it is recorded afterwards with its own timings.
  const claimStart = performance.now();
  await new Promise((r) => setTimeout(r, 20));
  const claimEnd = performance.now();
  await withSpan('embedsync.batch', { 'embedsync.batch_size': 2, skipped: undefined }, async (batch) => {
    recordSpan('embedsync.claim', { 'embedsync.rows': 2 }, claimStart, claimEnd);
    await withSpan('embedsync.encode', { 'embedsync.texts': 2 }, async () => {
      await new Promise((r) => setTimeout(r, 5)); // context must survive a timer hop
      traceIdInside = currentTraceId();
      logFieldsInside = traceLogFields();
    });
    await assert.rejects(withSpan('embedsync.write', {}, async () => { throw new Error('lost connection'); }), /lost connection/);
    batch.setAttributes({ 'embedsync.rows_written': 0 });
  }, { startTime: claimStart });
  assert.equal(currentTraceId(), undefined, 'no span is current outside withSpan');
  await tracing.shutdown();
  assert.equal(isTracingEnabled(), false);

  const spans = collector.received.spans;
  assert.deepEqual(collector.received.paths.every((p) => p === '/v1/traces'), true);
  assert.match(String(collector.received.headers[0]?.['content-type']), /application\/json/);
  const batch = byName(spans, 'embedsync.batch');
  const claim = byName(spans, 'embedsync.claim');
  const encode = byName(spans, 'embedsync.encode');
  const write = byName(spans, 'embedsync.write');
  assert.ok(!batch.parentSpanId, 'the batch span is a root');
  for (const child of [claim, encode, write]) {
    assert.equal(child.parentSpanId, batch.spanId, `${child.name} is a child of the batch span`);
    assert.equal(child.traceId, batch.traceId);
  }
  assert.match(batch.traceId, /^[0-9a-f]{32}$/);
  assert.equal(traceIdInside, batch.traceId);
  assert.deepEqual(logFieldsInside, { trace_id: batch.traceId, span_id: encode.spanId });
  assert.deepEqual(attrs(batch.attributes), { 'embedsync.batch_size': 2, 'embedsync.rows_written': 0 });
  assert.deepEqual(attrs(claim.attributes), { 'embedsync.rows': 2 });
  const ns = (v: string | number | undefined) => BigInt(String(v));
  // Each span maps performance.now() onto the wall clock on its own, so the two agree to well under 1 ms.
  const startGapMs = Number(ns(claim.startTimeUnixNano) - ns(batch.startTimeUnixNano)) / 1e6;
  assert.ok(Math.abs(startGapMs) < 1, `the batch span starts with its claim (${startGapMs} ms apart)`);
  const claimMs = Number(ns(claim.endTimeUnixNano) - ns(claim.startTimeUnixNano)) / 1e6;
  assert.ok(Math.abs(claimMs - (claimEnd - claimStart)) < 1, `claim span lasts ${claimMs} ms`);
  assert.ok(ns(encode.startTimeUnixNano) > ns(claim.endTimeUnixNano) - 1_000_000n, 'encode follows the claim');
  assert.equal(write.status?.code, 2, 'a failed step is marked ERROR');
  assert.equal(write.status?.message, 'lost connection');
  assert.ok(write.events?.some((e) => e.name === 'exception'));
  assert.notEqual(encode.status?.code, 2);
  const resource = collector.received.resources[0]!;
  assert.equal(resource['service.name'], 'embedsync-test');
  assert.equal(resource['service.version'], '9.9.9');
});

test('an HTTP request gets a SERVER span with route and status, child spans and trace ids in its log lines', async () => {
  collector.received.spans.length = 0;
  collector.received.resources.length = 0;
  const tracing = await startTracing({ endpoint: collector.url, serviceName: 'embedsync-test', serviceVersion: PACKAGE_VERSION });
  running = tracing;
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
  const app = Fastify({ loggerInstance: pino({ level: 'info', mixin: traceLogFields }, sink) });
  installHttpTracing(app);
  app.post('/embed/:kind', async (request) => {
    request.log.info({ event: 'embed_start' }, 'embedding');
    return withSpan('embedsync.encode', { 'embedsync.texts': 1 }, async () => ({ ok: true }));
  });
  app.get('/broken', async () => { throw new Error('encoder crashed'); });
  await app.ready();

  const remoteTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const remoteParent = '00f067aa0ba902b7';
  const ok = await app.inject({
    method: 'POST', url: '/embed/query?x=1', payload: { text: 'hi' }, headers: { traceparent: `00-${remoteTrace}-${remoteParent}-01` },
  });
  assert.equal(ok.statusCode, 200);
  const own = await app.inject({ method: 'POST', url: '/embed/doc', payload: {} });
  assert.equal(own.statusCode, 200);
  const broken = await app.inject({ method: 'GET', url: '/broken' });
  assert.equal(broken.statusCode, 500);
  const missing = await app.inject({ method: 'GET', url: '/nope' });
  assert.equal(missing.statusCode, 404);
  await app.close();
  await tracing.shutdown();

  const spans = collector.received.spans;
  const servers = spans.filter((s) => s.kind === 2);
  assert.deepEqual(servers.map((s) => s.name).sort(), ['GET', 'GET /broken', 'POST /embed/:kind', 'POST /embed/:kind']);
  const continued = servers.find((s) => s.traceId === remoteTrace);
  assert.ok(continued, 'the caller\'s traceparent is continued');
  assert.equal(continued.parentSpanId, remoteParent);
  assert.deepEqual(
    { ...attrs(continued.attributes), 'embedsync.request_id': undefined },
    {
      'http.request.method': 'POST', 'url.path': '/embed/query', 'http.route': '/embed/:kind', 'http.response.status_code': 200,
      'embedsync.request_id': undefined,
    },
  );
  const encodes = spans.filter((s) => s.name === 'embedsync.encode');
  assert.equal(encodes.length, 2);
  const encodeInContinued = encodes.find((s) => s.traceId === remoteTrace);
  assert.equal(encodeInContinued?.parentSpanId, continued.spanId, 'handler spans are children of the request span');
  const fresh = servers.find((s) => s.name === 'POST /embed/:kind' && s.traceId !== remoteTrace)!;
  assert.ok(!fresh.parentSpanId, 'without traceparent the request starts a new trace');
  const pkgVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  assert.ok(collector.received.resources.every((r) => r['service.version'] === pkgVersion),
    'service.version is the package version the process passes');
  const brokenSpan = byName(spans, 'GET /broken');
  assert.equal(brokenSpan.status?.code, 2);
  assert.equal(attrs(brokenSpan.attributes)['http.response.status_code'], 500);
  assert.equal(attrs(byName(spans, 'GET').attributes)['http.response.status_code'], 404);

  const handlerLines = lines.filter((l) => l.event === 'embed_start');
  assert.equal(handlerLines.length, 2);
  assert.deepEqual(handlerLines.map((l) => l.trace_id).sort(), [fresh.traceId, remoteTrace].sort());
  assert.ok(handlerLines.every((l) => typeof l.reqId === 'string'), 'request lines keep their request id');
});

test('an unreachable collector is reported, never thrown, and cannot hold up shutdown', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((r) => closed.close(() => r()));
  const errors: string[] = [];
  const tracing = await startTracing({
    endpoint: deadUrl, serviceName: 'embedsync-test', serviceVersion: PACKAGE_VERSION, exportDelayMs: 20, exportTimeoutMs: 300,
    shutdownTimeoutMs: 300,
    onExportError: (m) => errors.push(m),
  });
  running = tracing;
  assert.equal(await withSpan('embedsync.batch', {}, async () => 'done'), 'done');
  await waitUntil(() => errors.length > 0, 5000);
  assert.match(errors[0]!, /ECONNREFUSED/);
  assert.ok(!errors[0]!.includes('"stack"'), 'the message, not a serialised error');
  await withSpan('embedsync.batch', {}, async () => undefined);
  await tracing.flush(); // resolves
  const started = performance.now();
  await withSpan('embedsync.batch', {}, async () => undefined);
  await tracing.shutdown();
  assert.ok(performance.now() - started < 1500, `shutdown took ${performance.now() - started} ms`);
  assert.equal(isTracingEnabled(), false);
});

async function waitUntil(fn: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('installHttpTracing adds nothing while tracing is off', async () => {
  const app = Fastify();
  installHttpTracing(app);
  app.get('/x', async () => ({ traceId: currentTraceId() ?? null }));
  const res = await app.inject({ method: 'GET', url: '/x' });
  assert.deepEqual(res.json(), { traceId: null });
  await app.close();
});
