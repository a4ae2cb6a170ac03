#!/usr/bin/env node
// The CLI runs the compiled JavaScript in dist/ (`npm run build`; `npm start`, `npm test` and the image build run
// it). Development runs the TypeScript sources through tsx instead: `npm run embedsync -- <command>`.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('embedsync: dist/main.js is missing: build it with `npm run build`\n');
  process.exit(1);
}
await import(main.href);
