// GET /cache/stats and POST /cache/clear.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RouteContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { BODY_ERRORS, GUARDED_ERRORS, errorResponses } from '../schema-parts.ts';

const tags = ['cache'];

const stats = {
  tags, operationId: 'cacheStats', summary: 'Cache size, limits, hits, misses and hit rate (this process)',
  response: {
    200: {
      description: 'Cache counters',
      type: 'object', additionalProperties: false,
      required: ['enabled', 'backend', 'size', 'max_size', 'ttl_seconds', 'hits', 'misses', 'hit_rate'],
      properties: {
        enabled: { type: 'boolean' }, backend: { type: 'string', enum: ['memory', 'memory+redis'] },
        size: { type: 'integer' }, max_size: { type: 'integer' }, ttl_seconds: { type: 'integer' },
        hits: { type: 'integer' }, misses: { type: 'integer' }, hit_rate: { type: 'number', minimum: 0, maximum: 1 },
        redis_status: { type: 'string' },
      },
    },
    ...errorResponses(['native'], GUARDED_ERRORS),
  },
} as const;

const clear = {
  tags, operationId: 'cacheClear',
  summary: 'Empty the cache (the shared Redis level too, when configured)',
  description: 'State-changing, so a web page must not be able to trigger it with a simple (preflight-free) '
    + 'cross-origin request: send Content-Type: application/json (e.g. the body {}), an X-Requested-With header, '
    + 'or the API key. A bodiless POST without either is answered 415.',
  response: {
    200: {
      description: 'Entries removed',
      type: 'object', required: ['status', 'cleared'], additionalProperties: false,
      properties: { status: { type: 'string', enum: ['cleared'] }, cleared: { type: 'integer', minimum: 0 } },
    },
    ...errorResponses(['native'], [...BODY_ERRORS, ...GUARDED_ERRORS]),
  },
} as const;

/** A browser sends JSON or custom headers cross-origin only after a CORS preflight the server can refuse. */
function preflightOnly(request: FastifyRequest, apiKeyRequired: boolean): boolean {
  const type = request.headers['content-type'];
  return apiKeyRequired || (typeof type === 'string' && /^application\/([\w.-]+\+)?json\b/i.test(type))
    || request.headers['x-requested-with'] !== undefined;
}

export function cacheRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/cache/stats', { schema: stats }, async () => ctx.cache.stats());
  app.post('/cache/clear', { schema: clear }, async (request) => {
    if (!preflightOnly(request, ctx.config.http.apiKey !== undefined)) {
      throw new HttpError('unsupported_media', 'POST /cache/clear needs Content-Type: application/json (e.g. the body {}) '
        + 'or an X-Requested-With header, so that no web page can clear the cache with a plain cross-origin request');
    }
    const cleared = await ctx.cache.clear();
    request.log.info({ event: 'cache_cleared', cleared }, 'cache_cleared');
    return { status: 'cleared', cleared };
  });
}
