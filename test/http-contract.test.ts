// /openapi.json itself: valid OpenAPI 3.1 (checked by a real validator), the API-key scheme, an operationId and
// a response schema for every operation, strict error schemas per dialect, and the request rules the server
// enforces. (test/helpers/contract.ts checks every response the other HTTP tests receive against it.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { assertContract, responseProblem, type Spec } from './helpers/contract.ts';
import { closeTestApps, post, trackedApp, type TestApp } from './helpers/http-app.ts';

after(closeTestApps);

type Op = {
  operationId?: string; security?: unknown[]; responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
  requestBody?: { content: Record<string, { schema: Record<string, any> }> };
};

async function specOf(t: TestApp, key?: string): Promise<Record<string, any>> {
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json', headers: key ? { 'x-api-key': key } : {} });
  assert.equal(res.statusCode, 200);
  return res.json();
}

const operations = (spec: Record<string, any>) => Object.entries(spec.paths as Record<string, Record<string, Op>>)
  .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));

test('the spec is valid OpenAPI 3.1, with and without API_KEY, and declares the key scheme', async () => {
  for (const key of [undefined, 'contract-key']) {
    const t = await trackedApp({ env: key ? { API_KEY: key } : {} });
    const spec = await specOf(t, key);
    const result = await new Validator().validate(spec);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
    assert.equal(spec.openapi, '3.1.0');
    assert.deepEqual(Object.keys(spec.components.securitySchemes).sort(), ['apiKey', 'bearer']);
    assert.deepEqual(spec.security, key ? [{ bearer: [] }, { apiKey: [] }] : undefined);
    for (const { path, method, op } of operations(spec)) {
      const open = ['/health', '/ready', '/metrics'].includes(path);
      assert.equal(op.security !== undefined && op.security.length === 0, open, `${method} ${path}: open only if a probe`);
      if (!open) assert.ok(op.responses['401'] && op.responses['429'], `${method} ${path} documents 401 and 429`);
    }
  }
});

test('every operation: a unique operationId, a schema for every response, strict errors in its dialect', async () => {
  const spec = await specOf(await trackedApp());
  const ids = new Set<string>();
  const ops = operations(spec);
  assert.ok(ops.length >= 15, `${ops.length} operations`);
  for (const { path, method, op } of ops) {
    const where = `${method} ${path}`;
    assert.ok(op.operationId && !ids.has(op.operationId), `${where}: operationId`);
    ids.add(op.operationId);
    assert.ok(op.responses['200'] && op.responses['500'], `${where}: 200 and 500`);
    for (const [status, response] of Object.entries(op.responses)) {
      const media = Object.values(response.content ?? {})[0];
      assert.ok(media?.schema && Object.keys(media.schema).length >= (path === '/metrics' ? 1 : 2), `${where} ${status}: has a schema`);
      if (Number(status) < 400 || (path === '/ready' && status === '503')) continue;
      const shapes = (media.schema.oneOf as Record<string, unknown>[] | undefined) ?? [media.schema];
      for (const shape of shapes) {
        assert.equal(shape.additionalProperties, false, `${where} ${status}: strict`);
        assert.ok((shape.required as string[]).includes('request_id'), `${where} ${status}: request_id required`);
      }
      const keys = shapes.map((s) => Object.keys(s.properties as object).sort().join(','));
      const expected = path.startsWith('/v1/') ? ['error,request_id']
        : ['/', '/invocations', '/info'].includes(path) ? ['error,error_type,request_id']
          : path === '/embed' ? ['detail,request_id', 'error,error_type,request_id'] : ['detail,request_id'];
      assert.deepEqual(keys, expected, `${where} ${status}: the dialect's error shape`);
    }
  }
  // Statuses the server is known to answer, per the routes that answer them.
  const has = (path: string, method: string, status: number) => Boolean(spec.paths[path]?.[method]?.responses[String(status)]);
  for (const [path, method, status] of [
    ['/cache/clear', 'post', 415], ['/cache/clear', 'post', 429], ['/ready', 'get', 503], ['/v1/models', 'get', 503],
    ['/status', 'get', 404], ['/v1/models/{model}', 'get', 404], ['/embed', 'post', 408], ['/embed', 'post', 413],
    ['/', 'post', 503], ['/invocations', 'post', 400],
  ] as const) assert.ok(has(path, method, status), `${method} ${path} documents ${status}`);
});

test('the request rules are in the spec: exactly one of text/inputs, patterns, bounds, dimensions once loaded', async () => {
  const t = await trackedApp({ env: { MAX_TEXT_LENGTH: '50', MAX_BATCH_SIZE: '7' } });
  const spec = await specOf(t);
  const body = (path: string) => spec.paths[path].post.requestBody.content['application/json'].schema;
  const embed = body('/embed');
  assert.deepEqual(embed.anyOf, [{ required: ['text'] }, { required: ['inputs'] }]);
  assert.deepEqual(embed.not.required, ['text', 'inputs']);
  const text = embed.properties.text;
  assert.deepEqual([text.minLength, text.maxLength], [1, 50]);
  assert.deepEqual(text.allOf.map((p: { pattern: string }) => p.pattern), ['^[^\\u0000]*$', '\\S']);
  for (const pattern of text.allOf.map((p: { pattern: string }) => new RegExp(p.pattern, 'u'))) {
    assert.equal(pattern.test('fine text'), true);
  }
  assert.equal(new RegExp(text.allOf[0].pattern, 'u').test('a\u0000b'), false);
  assert.equal(new RegExp(text.allOf[1].pattern, 'u').test(' \n\t'), false);
  assert.equal(body('/embed/batch').properties.items.maxItems, 7);
  const openai = body('/v1/embeddings');
  assert.equal(openai.properties.input.anyOf[1].maxItems, 2048);
  assert.deepEqual(openai.properties.dimensions.enum, [t.app.embedsync.model.info!.dimensions]);
  assert.deepEqual(body('/').properties.truncation_direction.enum, ['Right', 'right', 'Left', 'left']);
  assert.deepEqual(body('/invocations').required, ['inputs']);
});

test('the contract check itself catches a response that breaks the spec', async () => {
  const t = await trackedApp();
  const spec = await specOf(t) as unknown as Spec;
  const ok = await post(t, '/embed', { text: 'contract' });
  const seen = { method: 'POST', path: '/embed', status: 200, contentType: 'application/json', body: ok.body };
  assert.equal(responseProblem(spec, seen), '');
  assert.match(responseProblem(spec, { ...seen, body: ok.body.replace('"cached"', '"extra":1,"cached"') })!, /additional properties/);
  assert.match(responseProblem(spec, { ...seen, status: 418 })!, /status not documented/);
  assert.match(responseProblem(spec, { ...seen, status: 400, body: '{"detail":"x"}' })!, /request_id/);
  assert.match(responseProblem(spec, { ...seen, path: '/v1/embeddings', status: 400, body: '{"detail":"x","request_id":"r"}' })!,
    /must have required property 'error'/);
  assert.match(responseProblem(spec, { ...seen, path: '/not-a-route', status: 200 })!, /route not in the spec/);
});

test('every response above matches /openapi.json', async () => {
  const { checked } = await assertContract();
  assert.ok(checked >= 1);
});
