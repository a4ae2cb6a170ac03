// The package's version, read once from package.json: two folders up from this file in src/ (development) and in
// dist/ (the compiled package) alike. --version, /openapi.json, the encoder's info and trace resources show it.
import { readFileSync } from 'node:fs';

export const PACKAGE_VERSION: string =
  (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
