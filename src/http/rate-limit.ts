// RATE_LIMIT / RATE_LIMIT_BATCH per client with @fastify/rate-limit. A client is its verified API key, else its IP
// (see auth.ts). The embedding routes get a bucket each; every other route shares one RATE_LIMIT bucket; the probes
// and /metrics are exempt. 429 answers carry Retry-After.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { HttpConfig, RateLimit } from '../config/index.ts';
import { PUBLIC_PATHS, type KeyCheck } from './auth.ts';
import type { RouteRateLimit } from './context.ts';
import { HttpError } from './errors.ts';

function routeLimit(limit: RateLimit, setting: string): RouteRateLimit {
  return {
    max: limit.max,
    timeWindow: limit.windowMs,
    errorResponseBuilder: (_request, context) =>
      new HttpError('rate_limit', `rate limit exceeded: ${limit.text} per client (${setting}); retry in ${context.after}`),
  };
}

export function rateLimits(http: HttpConfig): { single: RouteRateLimit; batch: RouteRateLimit } {
  return { single: routeLimit(http.rateLimit, 'RATE_LIMIT'), batch: routeLimit(http.rateLimitBatch, 'RATE_LIMIT_BATCH') };
}

export async function installRateLimit(app: FastifyInstance, http: HttpConfig, keys: KeyCheck): Promise<void> {
  const global = routeLimit(http.rateLimit, 'RATE_LIMIT');
  await app.register(rateLimit, {
    global: true,
    max: global.max,
    timeWindow: global.timeWindow,
    errorResponseBuilder: global.errorResponseBuilder,
    keyGenerator: (request) => keys.clientId(request),
    allowList: (request) => request.method === 'OPTIONS' || PUBLIC_PATHS.has(request.routeOptions.url ?? ''),
  });
}
