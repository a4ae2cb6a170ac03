#!/usr/bin/env node
// The CLI runs the compiled JavaScript in dist/ (`npm ci` builds it through the `prepare` script, `npm run build`
// rebuilds it). Development runs the TypeScript sources through tsx instead: `npm run embedsync -- <command>`.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('embedsync: dist/main.js is missing: build it with `npm run build` (npm ci builds it too)\n');
  process.exit(1);
}
await import(main.href);
