// POST /search: text in, rows out. The query is embedded like POST /embed's query role (cache, concurrency cap,
// deadline), then the table's own SQL search function runs (src/db/search-rows.ts, the path `embedsync search`
// takes too), so the answer is exactly what the function answers in SQL.
import type { FastifyInstance } from 'fastify';
import { parseQualifiedName, type QualifiedName } from '../../config/index.ts';
import type { Queryable } from '../../db/pool.ts';
import { sourceKeyOf } from '../../db/source-sql.ts';
import { readModelState } from '../../db/state-repository.ts';
import type { Encoder } from '../../encoder/types.ts';
import { sqlState } from '../../db/pg-errors.ts';
import { SearchError, searchRows } from '../../db/search-rows.ts';
import { encodeDeadline, type RouteContext } from '../context.ts';
import { badRequest, HttpError } from '../errors.ts';
import { textProblem } from '../text-checks.ts';

interface SearchBody {
  readonly query: string;
  readonly k?: number;
  readonly table?: string;
  readonly hybrid?: boolean;
  readonly min_score?: number;
  readonly text_weight?: number;
  readonly vector_weight?: number;
}

/**
 * A process serving several tables has their models loaded: the one the table was embedded with, when it is not
 * the configured model (which embed() takes by default). Unknown or unrecorded: the default, and searchRows says.
 */
async function loadedModelOf(ctx: RouteContext, db: Queryable, table: QualifiedName): Promise<Encoder | undefined> {
  const others = ctx.otherModels?.();
  if (!others || others.size === 0) return undefined;
  const st = await readModelState(db, sourceKeyOf({ table })).catch(() => undefined);
  return st ? [...others.values()].find((e) => e.info.checksum === st.checksum) : undefined;
}

export function searchRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post('/search', {
    schema: ctx.schemas.search, bodyLimit: ctx.bodyLimits.single,
    config: { rateLimit: ctx.rateLimit.single, needsModel: true, encodes: true },
  }, async (request, reply) => {
    const body = request.body as SearchBody;
    const problem = textProblem(body.query, 'query');
    if (problem) throw badRequest(problem);
    const hybrid = body.hybrid ?? false;
    if (hybrid && body.min_score !== undefined) {
      throw badRequest('min_score applies to vector search only (hybrid scores are rank fusions); leave it out or set hybrid false');
    }
    if (!hybrid && (body.text_weight !== undefined || body.vector_weight !== undefined)) {
      throw badRequest('text_weight and vector_weight apply to hybrid search only; set hybrid true');
    }
    let table = ctx.config.source.table;
    if (body.table !== undefined) {
      const parsed = parseQualifiedName(body.table);
      if (parsed.problem) throw badRequest(`table ${parsed.problem}`);
      table = parsed.value!;
    }
    const db = ctx.db;
    if (!db) throw new HttpError('unavailable', 'this server runs without a database connection, so it cannot search');
    const { outcomes, encoder } = await ctx.embedder.embed([{ text: body.query, role: 'query' }], encodeDeadline(ctx, reply), 'right',
      await loadedModelOf(ctx, db, table));
    const outcome = outcomes[0]!;
    if (!outcome.ok) throw badRequest(`query cannot be embedded: ${outcome.error}`);
    try {
      const rows = await searchRows(db, {
        table, text: body.query, vector: outcome.vector, checksum: encoder.info.checksum, k: body.k ?? 10, hybrid,
        ...(body.min_score !== undefined ? { minScore: body.min_score } : {}),
        ...(body.text_weight !== undefined ? { textWeight: body.text_weight } : {}),
        ...(body.vector_weight !== undefined ? { vectorWeight: body.vector_weight } : {}),
      });
      return { results: rows, model_checksum: encoder.info.checksum, cached: outcome.cached };
    } catch (err) {
      if (err instanceof SearchError) throw err.kind === 'request' ? badRequest(err.message) : new HttpError('unavailable', err.message);
      // The table's vectors have another dimension than the query (the search function says which).
      if (sqlState(err) === '22000') throw badRequest((err as Error).message);
      throw err;
    }
  });
}
