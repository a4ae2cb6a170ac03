// Which methods each path is served with, recorded as routes are added: a request for a served path with another
// method (GET /embed) gets 405 and an Allow header naming them, not a 404 that reads as "no such route".
import type { FastifyInstance } from 'fastify';

interface Served {
  readonly pattern: RegExp;
  readonly methods: Set<string>;
}

/** Starts recording (call before the routes are added); the returned lookup gives a path's methods, [] if none. */
export function recordRouteMethods(app: FastifyInstance): (path: string) => string[] {
  const served = new Map<string, Served>();
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    // The CORS preflight (OPTIONS on every path) says nothing about which routes exist.
    if (methods.every((m) => m === 'OPTIONS')) return;
    const entry = served.get(route.url) ?? { pattern: patternOf(route.url), methods: new Set<string>() };
    for (const m of methods) entry.methods.add(m);
    served.set(route.url, entry);
  });
  return (path) => {
    const methods = new Set<string>();
    for (const s of served.values()) if (s.pattern.test(path)) for (const m of s.methods) methods.add(m);
    return [...methods].sort();
  };
}

/** A route's URL as a regular expression: `:param` is one segment, a trailing `*` anything. */
function patternOf(url: string): RegExp {
  const escaped = url.split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.+?^${}()|[\]\\*]/g, '\\$&')));
  return new RegExp(`^${escaped.join('/')}$`);
}
