export * from './choices.ts';
export * from './defaults.ts';
export * from './types.ts';
export * from './load-config.ts';
export * from './identifiers.ts';
export * from './memory-limit.ts';
export type { RateLimit } from './parsers.ts';
export * from './version.ts';
