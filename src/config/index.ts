export * from './load-config.ts';
export * from './identifiers.ts';
export type { RateLimit } from './parsers.ts';
