// Builds the HTTP app for tests around the real tiny model, with log lines captured for assertions.
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config, type Env } from '../../src/config/index.ts';
import { createEncoder } from '../../src/encoder/index.ts';
import { EncodeError, type Encoder, type EncodeOptions, type Role } from '../../src/encoder/types.ts';
import { buildApp } from '../../src/http/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { createMetrics, type Metrics } from '../../src/metrics/index.ts';
import { TINY_MODEL_DIR } from '../support/tiny-model-dir.ts';
import { recordResponses } from './contract.ts';

export function testConfig(env: Env = {}): Config {
  return loadConfig({ EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', HOST: '127.0.0.1', PORT: '0', ...env });
}

let shared: Promise<Encoder> | undefined;
/** One real tiny-model encoder per test file (the app never closes it). */
export function tinyEncoder(): Promise<Encoder> {
  shared ??= createEncoder(testConfig().model);
  return shared;
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly metrics: Metrics;
  /** Every JSON log line written so far. */
  readonly logs: Record<string, unknown>[];
  readonly rawLogs: string[];
}

export interface TestAppOptions {
  readonly env?: Env;
  readonly encoder?: Encoder | Promise<Encoder>;
  readonly status?: () => Promise<unknown>;
  /** POST /search's database. */
  readonly db?: import('../../src/db/pool.ts').Queryable;
  /** Wait for /ready (default true). */
  readonly ready?: boolean;
}

export async function makeApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig(options.env);
  const rawLogs: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger('info', {
    write: (line: string) => { rawLogs.push(line); logs.push(JSON.parse(line) as Record<string, unknown>); },
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const app = await buildApp({
    config, metrics, logger, encoder: options.encoder ?? tinyEncoder(),
    ...(options.status ? { status: options.status } : {}),
    ...(options.db ? { db: options.db } : {}),
  });
  if (options.ready ?? true) await app.embedsync.ready;
  return { app, config, metrics, logs, rawLogs };
}

/** The real encoder, each call held back by `delayMs` (and abortable), to exercise the concurrency cap. */
export function slowEncoder(inner: Encoder, delayMs: number): Encoder & { calls: number; maxInFlight: number } {
  let inFlight = 0;
  const wrapper = {
    info: inner.info,
    calls: 0,
    maxInFlight: 0,
    async encode(texts: readonly string[], role: Role, options?: EncodeOptions) {
      wrapper.calls += 1;
      inFlight += 1;
      wrapper.maxInFlight = Math.max(wrapper.maxInFlight, inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return await inner.encode(texts, role, options);
      } finally {
        inFlight -= 1;
      }
    },
    close: async () => {},
  };
  return wrapper;
}

/** The real encoder, except that it refuses (EncodeError 'input') any text containing `marker`. */
export function refusingEncoder(inner: Encoder, marker: string, blame: 'index' | 'none' = 'index'): Encoder & { batches: number[] } {
  const wrapper = {
    info: inner.info,
    batches: [] as number[],
    async encode(texts: readonly string[], role: Role, options?: EncodeOptions) {
      wrapper.batches.push(texts.length);
      const bad = texts.findIndex((t) => t.includes(marker));
      if (bad >= 0) throw new EncodeError('input produces no usable tokens', 'input', blame === 'index' ? bad : undefined);
      return inner.encode(texts, role, options);
    },
    close: async () => {},
  };
  return wrapper;
}

/** A promise the test resolves by hand, for /ready before and after load. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

export const bits = (v: Float32Array | readonly number[]) => Buffer.from(Float32Array.from(v).buffer);

/** Apps made by a test file, closed (with the shared tiny encoder) by `closeTestApps` in its `after` hook. */
const openApps: TestApp[] = [];

export async function trackedApp(options: TestAppOptions = {}): Promise<TestApp> {
  const t = await makeApp(options);
  recordResponses(t.app, t.config.http.apiKey);
  openApps.push(t);
  return t;
}

export async function closeTestApps(): Promise<void> {
  await Promise.all(openApps.splice(0).map((t) => t.app.close()));
  await (await tinyEncoder()).close();
}

/** POST through app.inject; `remoteAddress` stands in for another client (rate limits are per client). */
export const post = (t: TestApp, url: string, payload: unknown, headers: Record<string, string> = {}, remoteAddress?: string) =>
  t.app.inject({ method: 'POST', url, payload: payload as object, headers, ...(remoteAddress ? { remoteAddress } : {}) });
