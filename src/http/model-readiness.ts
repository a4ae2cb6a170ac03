// Tracks the encoder from "loading" to "ready" (loaded and warmed up by a first encode), so /ready can answer
// 503 until the first real request would be fast, and the embedding routes can say why they cannot answer yet.
import type { Encoder, ModelInfo } from '../encoder/types.ts';
import { HttpError } from './errors.ts';

export type ModelPhase = 'loading' | 'warming' | 'ready' | 'failed';

export interface ModelReadinessLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ModelReadinessOptions {
  /** The configured model (folder or hub id), for the model_loading event. */
  readonly modelName: string;
  readonly logger: ModelReadinessLogger;
  readonly onReady?: (info: ModelInfo) => void;
}

const WARM_UP_TEXT = 'warm-up';

export class ModelReadiness {
  #phase: ModelPhase = 'loading';
  #encoder: Encoder | undefined;
  #failure: string | undefined;
  /** Resolves once ready; never rejects (a failure is reported through phase). */
  readonly ready: Promise<void>;

  constructor(source: Encoder | Promise<Encoder>, options: ModelReadinessOptions) {
    const { logger } = options;
    const loading = !isEncoder(source);
    if (loading) logger.info({ event: 'model_loading', model: options.modelName }, 'model_loading');
    this.ready = (async () => {
      try {
        const encoder = await source;
        this.#phase = 'warming';
        const warmStart = performance.now();
        await encoder.encode([WARM_UP_TEXT], 'query', { source: 'http' });
        this.#encoder = encoder;
        this.#phase = 'ready';
        const { info } = encoder;
        logger.info({
          event: 'model_loaded', model: info.name, backend: info.backend, dimensions: info.dimensions,
          checksum: info.checksum, file: info.file,
          load_time_seconds: info.loadTimeSeconds,
          warmup_seconds: round((performance.now() - warmStart) / 1000),
        }, 'model_loaded');
        options.onReady?.(info);
      } catch (err) {
        this.#phase = 'failed';
        this.#failure = (err as Error)?.message ?? String(err);
        logger.error({ event: 'model_load_failed', model: options.modelName, error: this.#failure }, 'model_load_failed');
      }
    })();
  }

  get phase(): ModelPhase {
    return this.#phase;
  }

  get info(): ModelInfo | undefined {
    return this.#encoder?.info;
  }

  /**
   * Resolves once the model is ready or failed, or after `maxMs`, whichever comes first: a request that arrives
   * while the model loads is held briefly rather than refused, as clients that retry at once would otherwise
   * spin on 503s.
   */
  async waitReady(maxMs: number): Promise<void> {
    if (this.#phase === 'ready' || this.#phase === 'failed' || maxMs <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.ready, new Promise<void>((resolve) => { timer = setTimeout(resolve, maxMs); })]);
    clearTimeout(timer);
  }

  /** The encoder, or a 503 saying why there is none yet. */
  encoder(): Encoder {
    if (this.#encoder) return this.#encoder;
    if (this.#phase === 'failed') {
      throw new HttpError('unavailable', `model failed to load: ${this.#failure}`);
    }
    throw new HttpError('unavailable', 'model is loading; retry shortly', { 'retry-after': '5' });
  }

  /** Text for /ready. */
  describe(): string {
    switch (this.#phase) {
      case 'loading': return 'model is loading';
      case 'warming': return 'model loaded, warming up';
      case 'ready': return 'ready';
      default: return `model failed to load: ${this.#failure}`;
    }
  }
}

function isEncoder(x: Encoder | Promise<Encoder>): x is Encoder {
  return typeof (x as Encoder).encode === 'function';
}

const round = (s: number) => Math.round(s * 1000) / 1000;
