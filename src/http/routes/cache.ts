// GET /cache/stats and POST /cache/clear.
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.ts';

export function cacheRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const tags = ['cache'];
  app.get('/cache/stats', { schema: { tags, summary: 'Cache size, limits, hits, misses and hit rate (this process)' } }, async () => ctx.cache.stats());
  app.post('/cache/clear', { schema: { tags, summary: 'Empty the cache (the shared Redis level too, when configured)' } }, async (request) => {
    const cleared = await ctx.cache.clear();
    request.log.info({ event: 'cache_cleared', cleared }, 'cache_cleared');
    return { status: 'cleared', cleared };
  });
}
