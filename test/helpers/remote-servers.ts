// Real servers for the remote-encoder tests: "daemon B" is the embedsync HTTP API on the tiny model (the
// real app, listening on loopback, restartable on the same port), and a small proxy in front of it that
// records what arrives and can answer some requests itself (429 with Retry-After) or reshape B's answers
// (the way a server that does not normalize would), while B still does the encoding.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { loadConfig, type Config, type Env } from '../../src/config/index.ts';
import { createEncoder } from '../../src/encoder/index.ts';
import type { Encoder } from '../../src/encoder/types.ts';
import { startHttpServer, type HttpServer } from '../../src/http/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { createMetrics } from '../../src/metrics/index.ts';
import { TINY_MODEL_DIR } from '../support/tiny-model-dir.ts';

/** What B needs to serve daemons: rate limits out of the way. */
export const B_ENV: Env = {
  EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', HOST: '127.0.0.1', PORT: '0',
  RATE_LIMIT: '1000000/second', RATE_LIMIT_BATCH: '1000000/second', CACHE_ENABLED: 'false', LOG_LEVEL: 'silent',
};

export interface DaemonB {
  readonly encoder: Encoder;
  readonly config: Config;
  address: string;
  /** Stops listening (connections refused) without closing the encoder. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startDaemonB(env: Env = {}): Promise<DaemonB> {
  const config = loadConfig({ ...B_ENV, ...env });
  const encoder = await createEncoder(config.model);
  let server: HttpServer | undefined;
  let cfg = config;
  const listen = async () => {
    server = await startHttpServer({
      config: cfg, encoder, metrics: createMetrics({ defaultMetrics: false }), logger: createLogger('silent'),
    });
    await server.app.embedsync.ready;
    b.address = server.address;
    cfg = loadConfig({ ...B_ENV, ...env, PORT: new URL(server.address).port });
  };
  const b: DaemonB = {
    encoder, config, address: '',
    async stop() {
      await server?.close();
      server = undefined;
    },
    start: listen,
    async close() {
      await b.stop();
      await encoder.close();
    },
  };
  await listen();
  return b;
}

export interface ProxiedRequest {
  readonly at: number;
  readonly path: string;
  /** Inputs in the request (items, inputs or input). */
  readonly items: number;
  status?: number;
  readonly body: Record<string, unknown>;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: unknown;
}

export interface Proxy {
  readonly address: string;
  readonly requests: ProxiedRequest[];
  /** Most requests in flight at once. */
  peakInFlight: number;
  /** Answer a request here instead of forwarding it. */
  intercept: ((r: ProxiedRequest) => Reply | undefined) | undefined;
  /** Reshape B's JSON answer. */
  transform: ((path: string, body: unknown) => unknown) | undefined;
  close(): Promise<void>;
}

export async function startProxy(target: () => string): Promise<Proxy> {
  let inFlight = 0;
  const proxy: Proxy = {
    address: '', requests: [], peakInFlight: 0, intercept: undefined, transform: undefined,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  const server: Server = createServer(async (req, res) => {
    inFlight += 1;
    proxy.peakInFlight = Math.max(proxy.peakInFlight, inFlight);
    try {
      const raw = await readBody(req);
      const body = raw ? JSON.parse(raw) as Record<string, unknown> : {};
      const list = body.items ?? body.inputs ?? body.input;
      const record: ProxiedRequest = {
        at: Date.now(), path: req.url ?? '', items: Array.isArray(list) ? list.length : list === undefined ? 0 : 1, body,
      };
      if (req.method === 'POST') proxy.requests.push(record);
      let reply = proxy.intercept?.(record);
      if (!reply) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (req.headers.authorization) headers.authorization = req.headers.authorization;
        const r = await request(new URL(req.url ?? '/', target()),
          { method: req.method as 'GET' | 'POST', headers, ...(raw ? { body: raw } : {}) });
        const text = await r.body.text();
        let out: unknown = JSON.parse(text);
        if (r.statusCode === 200 && proxy.transform) out = proxy.transform(record.path, out);
        const h: Record<string, string> = {};
        if (r.headers['retry-after']) h['retry-after'] = String(r.headers['retry-after']);
        reply = { status: r.statusCode, headers: h, body: out };
      }
      record.status = reply.status;
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.body));
    } catch (err) {
      // B is down: drop the connection, as B itself would have refused it.
      res.destroy(err as Error);
    } finally {
      inFlight -= 1;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (proxy as { address: string }).address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Largest absolute difference between two lists of vectors. */
export function maxDiff(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  a.forEach((v, i) => {
    if (v.length !== b[i]!.length) d = Infinity;
    for (let j = 0; j < v.length; j++) d = Math.max(d, Math.abs(v[j]! - b[i]![j]!));
  });
  return d;
}
