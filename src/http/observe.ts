// Request ids, one log line per request, and the request metrics. Bodies, headers and query strings are never
// logged: texts and keys stay out of the logs.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Metrics } from '../metrics/index.ts';

const CLIENT_ID = /^[\w.:-]{1,128}$/;

/** A caller's X-Request-Id is kept when it is a plain token, so ids can follow a request across services. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
}

const endpointOf = (request: FastifyRequest) => request.routeOptions.url ?? 'unmatched';

/** Probes and scrapes arrive every few seconds; their successful answers are logged at debug level only. */
const QUIET = new Set(['/health', '/ready', '/metrics']);

export function observeRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const endpoint = endpointOf(request);
    const seconds = reply.elapsedTime / 1000;
    metrics.requestsTotal.inc({ endpoint, status: String(reply.statusCode) });
    metrics.requestLatency.observe({ endpoint }, seconds);
    const path = request.url.split('?', 1)[0]!.slice(0, 200);
    const level = QUIET.has(endpoint) && reply.statusCode < 400 ? 'debug' : 'info';
    request.log[level]({
      event: 'request', method: request.method, path, route: endpoint, status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 1000) / 1000,
    }, 'request');
  });
}
