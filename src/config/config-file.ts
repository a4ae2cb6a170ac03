// embedsync.config.json: the same keys as the environment, as JSON. Unknown keys are problems (with the
// nearest known name), so a typo is not silently ignored.
import { existsSync, readFileSync } from 'node:fs';
import { nearestSetting, SETTINGS } from './settings.ts';
import type { Env } from './types.ts';

/** The environment without its unset keys, so spreading it over the file does not erase file values. */
export function definedOnly(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * The settings of the file at `path` as strings (lists joined by commas); {} when there is none. A `required`
 * file (named by EMBEDSYNC_CONFIG) that is missing is a problem: its settings would be silently ignored.
 */
export function readConfigFile(path: string | undefined, problems: string[], required = false): Record<string, string> {
  if (!path) return {};
  if (!existsSync(path)) {
    if (required) problems.push(`EMBEDSYNC_CONFIG names ${path}, which does not exist: correct the path, or unset EMBEDSYNC_CONFIG`);
    return {};
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    problems.push(`${path} is not valid JSON: ${(err as Error).message}`);
    return {};
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    problems.push(`${path} must hold a JSON object of settings`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) {
    if (!(SETTINGS as readonly string[]).includes(k)) {
      const near = nearestSetting(k);
      problems.push(`${path}: unknown setting ${k}${near ? ` (did you mean ${near}?)` : ''}; docs/configuration.md lists them all`);
      continue;
    }
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v.join(',');
    else problems.push(`${path}: ${k} must be a string, number, boolean or list of strings`);
  }
  return out;
}
