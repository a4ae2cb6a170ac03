// The OpenAPI contract, checked against what the server really sends: every response a test receives (through
// app.inject or over a socket with `contractFetch`) is recorded with the spec of the app that sent it, and
// `assertContract` validates each one: its status must be documented for the route, its body must match the schema.
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance, InjectOptions } from 'fastify';

interface Spec {
  readonly paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>;
}
interface Received {
  /** The spec of the app that answered, fetched when the contract is checked (so it never shows in a test's logs). */
  readonly spec: () => Promise<Spec>;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

const received: Received[] = [];

function specOf(app: FastifyInstance, apiKey: string | undefined): () => Promise<Spec> {
  const inject = app.inject.bind(app);
  let spec: Promise<Spec> | undefined;
  return () => (spec ??= (async () => {
    // From an address of its own, so it never spends a test client's rate-limit budget.
    const res = await inject({ method: 'GET', url: '/openapi.json', remoteAddress: '192.0.2.254', headers: apiKey ? { 'x-api-key': apiKey } : {} });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as Spec;
  })());
}

/** Records every response `app.inject` returns from now on. */
export function recordResponses(app: FastifyInstance, apiKey: string | undefined): void {
  const spec = specOf(app, apiKey);
  const inject = app.inject.bind(app) as (o: InjectOptions) => Promise<import('light-my-request').Response>;
  (app as unknown as { inject: typeof inject }).inject = async (options: InjectOptions) => {
    const res = await inject(options);
    received.push({
      spec, method: String(options.method ?? 'GET'), path: String(options.url ?? options.path ?? '/').split('?', 1)[0]!,
      status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body: res.body,
    });
    return res;
  };
}

/** A fetch that records the responses of `base` (for real clients driving a listening server). */
export function contractFetch(base: string, app: FastifyInstance, apiKey?: string): typeof fetch {
  const spec = specOf(app, apiKey);
  return async (input, init) => {
    const request = new Request(input, init);
    const res = await fetch(request);
    const url = new URL(request.url);
    if (url.origin === new URL(base).origin) {
      const body = await res.clone().text();
      received.push({ spec, method: request.method, path: url.pathname, status: res.status, contentType: res.headers.get('content-type') ?? '', body });
    }
    return res;
  };
}

function findPath(spec: Spec, path: string): string | undefined {
  if (spec.paths[path]) return path;
  return Object.keys(spec.paths).find((p) => p.includes('{') && new RegExp(`^${p.replace(/\{[^}]+\}/g, '.+')}$`).test(path));
}

const UNDOCUMENTED = new Set(['/openapi.json']);

/** Validates every recorded response (and forgets them); fails listing each mismatch. */
export async function assertContract(): Promise<{ checked: number }> {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();
  const problems: string[] = [];
  let checked = 0;
  for (const r of received.splice(0)) {
    if (r.method === 'OPTIONS' || UNDOCUMENTED.has(r.path) || r.path.startsWith('/docs')) continue;
    const spec = await r.spec();
    const path = findPath(spec, decodeURIComponent(r.path));
    const where = `${r.method} ${r.path} → ${r.status}`;
    if (!path) {
      // Only unknown routes may be missing from the spec, and they answer 404 in the native shape.
      if (r.status !== 404) problems.push(`${where}: route not in the spec`);
      continue;
    }
    const operation = spec.paths[path]![r.method.toLowerCase()];
    if (!operation) {
      if (r.status !== 404) problems.push(`${where}: method not in the spec`);
      continue;
    }
    const response = operation.responses[String(r.status)];
    if (!response) {
      problems.push(`${where}: status not documented`);
      continue;
    }
    checked++;
    const [type, media] = Object.entries(response.content ?? {})[0] ?? [];
    if (!type || !media) continue;
    if (!r.contentType.startsWith(type)) {
      problems.push(`${where}: content-type ${r.contentType}, documented ${type}`);
      continue;
    }
    if (!type.includes('json')) continue;
    let validate = compiled.get(media.schema);
    if (!validate) compiled.set(media.schema, (validate = ajv.compile(media.schema)));
    if (!validate(JSON.parse(r.body))) {
      problems.push(`${where}: ${ajv.errorsText(validate.errors)} in ${r.body.slice(0, 300)}`);
    }
  }
  assert.deepEqual(problems, [], `responses that break /openapi.json:\n${problems.join('\n')}`);
  return { checked };
}
