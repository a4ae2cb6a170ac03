// What the HTTP API needs from the process that runs it (the `run` command, tests, benches).
import type { Config } from '../config/index.ts';
import type { Queryable } from '../db/pool.ts';
import type { Encoder } from '../encoder/types.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';

export interface HttpDeps {
  readonly config: Config;
  /**
   * The encoder, or the promise of one while it loads: the API starts answering at once, /ready says 503 until
   * the model is loaded and warmed up, and the embedding routes answer 503 "model is loading" meanwhile.
   * The API never closes the encoder; its owner does.
   */
  readonly encoder: Encoder | Promise<Encoder>;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** GET /status; absent when the process runs without the sync worker (404 with a clear message). */
  readonly status?: () => Promise<unknown>;
  /** The database POST /search reads (the SQL search functions); absent: /search answers 503. */
  readonly db?: Queryable;
  /** Why the process should take no traffic although its model is ready (the sync daemon's model was replaced). */
  readonly notReady?: () => string | undefined;
  /**
   * A process serving several tables: the other models loaded now (by model name), which the OpenAI route's
   * `model` field may pick. The API never closes them; their owner does.
   */
  readonly otherModels?: () => ReadonlyMap<string, Encoder>;
}
