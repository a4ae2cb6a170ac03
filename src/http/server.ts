// Listens on HOST:PORT. Used by the `run` command.
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import type { HttpDeps } from './deps.ts';

export interface HttpServer {
  /** e.g. http://127.0.0.1:8000 (the real port when PORT=0). */
  readonly address: string;
  readonly app: FastifyInstance;
  /** Stops accepting connections, lets requests in flight finish, closes the Redis cache. Not the encoder. */
  close(): Promise<void>;
}

export async function startHttpServer(deps: HttpDeps): Promise<HttpServer> {
  const app = await buildApp(deps);
  try {
    await app.listen({ host: deps.config.http.host, port: deps.config.http.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const addr = app.server.address();
  const address = typeof addr === 'string' || addr === null
    ? String(addr)
    : `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  deps.logger.info({ event: 'http_listening', address }, 'http_listening');
  return { address, app, close: () => app.close() };
}
