// The HTTP embedding API. `run` calls startHttpServer(deps); tests use buildApp(deps) with app.inject().
export { buildApp } from './app.ts';
export { startHttpServer, type HttpServer } from './server.ts';
export type { HttpDeps } from './deps.ts';
export type { ModelPhase } from './model-readiness.ts';
