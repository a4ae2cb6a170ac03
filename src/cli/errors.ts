// Turns a failure into the message a user can act on: which setting led there and how to fix it. Postgres's
// DETAIL and HINT are kept; a message that already carries the `embedsync:` prefix does not get a second one.
import { DEFAULT_MODEL } from '../config/index.ts';
import { isNotMigrated } from '../db/pg-errors.ts';

export interface ErrorSettings {
  /** DATABASE_URL as configured (undefined: libpq's PG* variables). */
  readonly databaseUrl: string | undefined;
  readonly model: string | undefined;
  readonly hfEndpoint: string | undefined;
  /** PGHOST and friends, to say where a URL-less connection went. */
  readonly pgEnv: Readonly<Record<string, string | undefined>>;
}

/** Node's socket errors and the server's refusals that mean "this is not the database you meant". */
const CONNECT_CODES = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET'] as const;
const SERVER_REFUSALS: Readonly<Record<string, string>> = {
  '28P01': 'the password was refused',
  '28000': 'the server refused this user or host (pg_hba.conf)',
  '3D000': 'the database does not exist',
  '57P03': 'the server is starting up or shutting down',
};

export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

export function explainError(err: unknown, s: ErrorSettings): string {
  const message = stripPrefix(err instanceof Error ? err.message : String(err));
  const e = err as { code?: string; detail?: string; hint?: string; errors?: { code?: string }[] };
  const code = e?.code ?? e?.errors?.[0]?.code;
  if ((code && ((CONNECT_CODES as readonly string[]).includes(code) || code in SERVER_REFUSALS)) ||
    /^SASL: .*password must be a string/.test(message)) {
    return databaseUnreachable(message || String(code), code ?? '', s);
  }
  if (code === 'EADDRINUSE' || code === 'EACCES') {
    const e2 = err as { port?: number; address?: string };
    return `${message}\n  fix: the HTTP API cannot listen on ${e2.address ?? 'HOST'}:${e2.port ?? 'PORT'}; ` +
      'set PORT (and HOST) to a free port, stop the process holding it, or run with --no-http';
  }
  // By name: importing the downloader (and its checkpoint importer) would slow every command's start.
  if ((err as Error)?.name === 'HubUnreachableError') return hubUnreachable(message, s);
  if ((err as Error)?.name === 'ModelFolderError') return `${message}\n${MODEL_FOLDER_FIX}`;
  if ((err as Error)?.name === 'HubDownloadError') return `${message}\n${folderHint(s)}${MODEL_FOLDER_FIX}`;
  const extra = [e?.detail ? `DETAIL: ${e.detail}` : '', e?.hint ? `HINT: ${e.hint}` : ''].filter(Boolean);
  // One of embedsync's own tables, functions or its schema missing: not migrated (or by an older version).
  if (isNotMigrated(err) && /\bembedsync"?\.|schema "embedsync"/.test(message)) {
    extra.push('fix: run `embedsync migrate` first (it installs or upgrades embedsync\'s schema and functions)');
  }
  return [message, ...extra.map((x) => `  ${x}`)].join('\n');
}

function databaseUnreachable(message: string, code: string, s: ErrorSettings): string {
  const why = code && SERVER_REFUSALS[code] ? `${SERVER_REFUSALS[code]} (${message})` : message;
  const where = s.databaseUrl
    ? `${maskUrl(s.databaseUrl)} (DATABASE_URL)`
    : `host=${s.pgEnv.PGHOST ?? 'localhost'} port=${s.pgEnv.PGPORT ?? '5432'} user=${s.pgEnv.PGUSER ?? '(login name)'} ` +
      `database=${s.pgEnv.PGDATABASE ?? '(user name)'} (DATABASE_URL is not set: libpq's PG* variables and defaults)`;
  return `cannot connect to PostgreSQL at ${where}: ${why}\n` +
    '  fix: start the database or correct the setting: DATABASE_URL=postgres://user:password@host:5432/dbname ' +
    '(or unset it and use PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)';
}

/** What a model folder holds and the ways to get one: the fix line of a missing or incomplete folder. */
const MODEL_FOLDER_FIX =
  '  fix: set EMBEDDING_MODEL to a local model folder (onnx/model.onnx, tokenizer.json, config.json): one copied from a machine\n' +
  '  that has it (~/.cache/embedsync/), or `embedsync model import <checkpoint folder>`; to try the pipeline, the random-weight\n' +
  '  test model: `npx embedsync model make-test ./test-model && export EMBEDDING_MODEL=$PWD/test-model`. See docs/models.md.';

function hubUnreachable(message: string, s: ErrorSettings): string {
  const model = s.model ?? DEFAULT_MODEL;
  return `${message}\n` +
    `  EMBEDDING_MODEL=${model} is a model hub id, and the hub (HF_ENDPOINT=${s.hfEndpoint ?? 'https://huggingface.co'}) ` +
    'cannot be reached from here.\n' +
    `${folderHint(s)}${MODEL_FOLDER_FIX}`;
}

/** A hub id that may have been meant as a folder (`models/mine`): how to say it is one. */
function folderHint(s: ErrorSettings): string {
  return s.model && s.model !== DEFAULT_MODEL ? `  (a folder named ${s.model}? Write it as ./${s.model} or an absolute path.)\n` : '';
}

function stripPrefix(m: string): string {
  return m.replace(/^(embedsync:\s*)+/, '');
}
