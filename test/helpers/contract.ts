// The OpenAPI contract, checked against what the server really sends: every response a test receives (through
// app.inject or over a socket with `contractFetch`) is recorded with the spec of the app that sent it, and
// `assertContract` validates each one: its status must be documented for the route, its body must match the schema.
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance, InjectOptions } from 'fastify';

export interface Spec {
  readonly paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>;
}
interface Received extends ResponseSeen {
  /** The spec of the app that answered, fetched when the contract is checked (so it never shows in a test's logs). */
  readonly spec: () => Promise<Spec>;
}

const received: Received[] = [];

function specOf(app: FastifyInstance, apiKey: string | undefined): () => Promise<Spec> {
  const inject = app.inject.bind(app);
  let spec: Promise<Spec> | undefined;
  return () => (spec ??= (async () => {
    // From an address of its own, so it never spends a test client's rate-limit budget.
    const res = await inject({
      method: 'GET', url: '/openapi.json', remoteAddress: '192.0.2.254', headers: apiKey ? { 'x-api-key': apiKey } : {},
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Spec>();
  })());
}

/** Records every response `app.inject` returns from now on. */
export function recordResponses(app: FastifyInstance, apiKey: string | undefined): void {
  const spec = specOf(app, apiKey);
  const inject = app.inject.bind(app) as (o: InjectOptions) => Promise<import('fastify').LightMyRequestResponse>;
  (app as unknown as { inject: typeof inject }).inject = async (options: InjectOptions) => {
    const res = await inject(options);
    received.push({
      spec, method: String(options.method ?? 'GET'), path: String((options.url ?? options.path ?? '/') as string).split('?', 1)[0]!,
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
      received.push({
        spec, method: request.method, path: url.pathname, status: res.status, contentType: res.headers.get('content-type') ?? '', body,
      });
    }
    return res;
  };
}

function findPath(spec: Spec, path: string): string | undefined {
  if (spec.paths[path]) return path;
  return Object.keys(spec.paths).find((p) => p.includes('{') && new RegExp(`^${p.replace(/\{[^}]+\}/g, '.+')}$`).test(path));
}

const UNDOCUMENTED = new Set(['/openapi.json']);

export interface ResponseSeen {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** What is wrong with one response under `spec` ('' when nothing; undefined when the spec does not cover it). */
export function responseProblem(spec: Spec, r: ResponseSeen, ajv = new Ajv2020({ strict: false, allErrors: true })): string | undefined {
  if (r.method === 'OPTIONS' || UNDOCUMENTED.has(r.path) || r.path.startsWith('/docs')) return undefined;
  const path = findPath(spec, decodeURIComponent(r.path));
  const where = `${r.method} ${r.path} → ${r.status}`;
  const operation = path ? spec.paths[path]![r.method.toLowerCase()] : undefined;
  // Only unknown routes may be missing from the spec, and they answer 404.
  if (!operation) return r.status === 404 ? undefined : `${where}: route not in the spec`;
  const response = operation.responses[String(r.status)];
  if (!response) return `${where}: status not documented`;
  const [type, media] = Object.entries(response.content ?? {})[0] ?? [];
  if (!type || !media) return '';
  if (!r.contentType.startsWith(type)) return `${where}: content-type ${r.contentType}, documented ${type}`;
  if (!type.includes('json')) return '';
  let validate = compiled.get(media.schema);
  if (!validate) compiled.set(media.schema, (validate = ajv.compile(media.schema)));
  return validate(JSON.parse(r.body)) ? '' : `${where}: ${ajv.errorsText(validate.errors)} in ${r.body.slice(0, 300)}`;
}

const compiled = new WeakMap<object, (data: unknown) => boolean & { errors?: unknown }>() as
  WeakMap<object, ReturnType<Ajv2020['compile']>>;

/** Validates every recorded response (and forgets them); fails listing each mismatch. */
export async function assertContract(): Promise<{ checked: number }> {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const problems: string[] = [];
  let checked = 0;
  for (const r of received.splice(0)) {
    const problem = responseProblem(await r.spec(), r, ajv);
    if (problem === undefined) continue;
    checked++;
    if (problem) problems.push(problem);
  }
  assert.deepEqual(problems, [], `responses that break /openapi.json:\n${problems.join('\n')}`);
  return { checked };
}
