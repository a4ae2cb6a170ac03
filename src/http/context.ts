// What the route files receive from the app builder.
import type { FastifyReply } from 'fastify';
import type { EmbeddingCache } from '../cache/index.ts';
import type { Config } from '../config/index.ts';
import type { Encoder } from '../encoder/types.ts';
import type { Queryable } from '../db/pool.ts';
import type { Metrics } from '../metrics/index.ts';
import type { BodyLimits } from './body-limits.ts';
import type { Embedder } from './embedder.ts';
import type { ModelReadiness } from './model-readiness.ts';
import type { Schemas } from './schemas.ts';

/** Per-route @fastify/rate-limit settings (each route gets its own bucket per client). */
export interface RouteRateLimit {
  readonly max: number;
  readonly timeWindow: number;
  readonly errorResponseBuilder: (request: unknown, context: { after: string }) => Error;
}

export interface RouteContext {
  readonly config: Config;
  readonly model: ModelReadiness;
  readonly embedder: Embedder;
  readonly cache: EmbeddingCache;
  readonly metrics: Metrics;
  readonly schemas: Schemas;
  readonly status: (() => Promise<unknown>) | undefined;
  /** POST /search's database (HttpDeps.db). */
  readonly db: Queryable | undefined;
  readonly notReady: (() => string | undefined) | undefined;
  /** Other loaded models the OpenAI `model` field may pick (a process serving several tables). */
  readonly otherModels: (() => ReadonlyMap<string, Encoder>) | undefined;
  readonly rateLimit: { readonly single: RouteRateLimit; readonly batch: RouteRateLimit };
  readonly bodyLimits: BodyLimits;
}

/**
 * ENCODE_TIMEOUT_SECONDS counted from the request's arrival (a performance.now() time), so time spent reading,
 * parsing and waiting counts too and a client is answered at the stated time.
 */
export function encodeDeadline(ctx: RouteContext, reply: FastifyReply): number {
  return performance.now() - reply.elapsedTime + ctx.config.http.encodeTimeoutMs;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Held up to MODEL_WAIT_SECONDS while the model loads, instead of an immediate 503. */
    needsModel?: boolean;
    /** Takes TEI's shape too: the body limit grows to TEI's once a top-level "inputs" shows (body-parser.ts). */
    teiShape?: boolean;
    /** Encodes: a large body is refused before it is read when every encode slot and queue place is taken. */
    encodes?: boolean;
  }
}
