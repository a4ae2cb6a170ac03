// `embedsync doctor [--no-model]`: checks the setup end to end and prints one line per check, ✔ or ✘ with
// the fix. Exit code 0 when every check passed, 1 otherwise. Reads only: it never migrates or writes.
import { captureNames, captureState } from '../db/logical-capture.ts';
import { idsFromSequence, newRowsIndexReady } from '../db/new-rows-index.ts';
import { isPartitioned } from '../db/partitioned-index.ts';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import type { Config } from '../config/index.ts';
import { quoteQualified } from '../db/quote.ts';
import { stemOf } from '../db/source-sql.ts';
import { changeLogName } from '../queue/change-log.ts';
import type { ModelState } from '../db/model-state.ts';
import { readModelState } from '../db/state-repository.ts';
import { createClient } from '../db/pool.ts';
import { loadSql } from '../db/sql-template.ts';
import { checkIdColumn, inspectSource, SourceError, type SourceInfo } from '../db/source-info.ts';
import { getIndexStatus } from '../db/vector-index.ts';
import { pgvectorProblem, postgresProblem, readServerVersions, type ServerVersions } from '../db/server-versions.ts';
import { queueOps } from '../queue/queue.ts';
import { UsageError, type Command, type CommandContext } from './context.ts';
import { explainError } from './errors.ts';
import { selectedSources } from '../db/source-settings.ts';
import { indexPolicyOf } from '../db/index-maintenance.ts';

export interface Check {
  readonly ok: boolean;
  readonly name: string;
  /** What was found. */
  readonly found: string;
  /** What to do about it (failed checks). */
  readonly fix?: string;
}

/** A queue entry older than this means no daemon is keeping up (or none runs). */
const STALE_QUEUE_SECONDS = 300;
const USAGE = 'usage: embedsync doctor [--no-model]';

export const doctorCommand: Command = async (ctx) => {
  let values;
  try {
    ({ values } = parseArgs({ args: [...ctx.argv], options: { 'no-model': { type: 'boolean', default: false } } }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const config = ctx.config();
  const checks = config.tables.kind === 'one'
    ? await runChecks(ctx, config, !values['no-model'])
    : await tablesChecks(ctx, config, !values['no-model']);
  for (const c of checks) ctx.stdout.write(`${formatCheck(c)}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  ctx.stdout.write(failed ? `\n${failed} of ${checks.length} checks failed\n` : `\nall ${checks.length} checks passed\n`);
  return failed ? 1 : 0;
};

/** The database and pgvector checks: found, and against what the schema needs (src/db/server-versions.ts). */
export function versionChecks(v: ServerVersions, where: string): Check[] {
  const server = postgresProblem(v);
  const vector = pgvectorProblem(v);
  return [
    server ? { ok: false, name: 'database', found: `PostgreSQL ${v.server}, ${where}`, fix: server }
      : { ok: true, name: 'database', found: `PostgreSQL ${v.server}, ${where}` },
    vector ? { ok: false, name: 'pgvector', found: `pgvector ${v.pgvectorInstalled ?? `${v.pgvectorAvailable} (available, not installed)`}`,
      fix: vector }
      : v.pgvectorInstalled ? { ok: true, name: 'pgvector', found: `pgvector ${v.pgvectorInstalled}` }
        : v.pgvectorAvailable ? { ok: false, name: 'pgvector',
          found: `pgvector ${v.pgvectorAvailable} is available but not installed in this database`,
          fix: '`embedsync migrate` creates it (as a role that may CREATE EXTENSION), or CREATE EXTENSION vector' }
          : { ok: false, name: 'pgvector', found: 'pgvector is not installed on the server',
            fix: 'install pgvector on the database server (https://github.com/pgvector/pgvector#installation)' },
  ];
}

/**
 * EMBEDSYNC_TABLE a list or *: the checks of every table served, each with the settings and model migrate
 * recorded for it, the check names prefixed with the table. A listed table that was never migrated fails.
 */
async function tablesChecks(ctx: CommandContext, config: Config, loadModel: boolean): Promise<Check[]> {
  const client = createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-doctor' });
  let selected;
  try {
    await client.connect();
    selected = await selectedSources(client, config);
  } catch {
    return runChecks(ctx, config, loadModel); // the database check says what is wrong
  } finally {
    await client.end().catch(() => undefined);
  }
  const checks: Check[] = selected.unrecorded.map((k) => ({ ok: false, name: `${k} setup`,
    found: `${k} has no settings recorded by migrate`,
    fix: `EMBEDSYNC_TABLE=${k} embedsync migrate (with its id and text columns)` }));
  if (selected.sources.length === 0 && checks.length === 0) {
    checks.push({ ok: false, name: 'tables', found: 'no table migrated yet',
      fix: 'EMBEDSYNC_TABLE=<table> embedsync migrate for each table' });
  }
  for (const r of selected.sources) {
    const table = `${r.source.table.schema}.${r.source.table.name}`;
    const own = await runChecks(ctx,
      { ...config, source: r.source, tables: { kind: 'one' }, model: { ...config.model, model: r.model } },
      loadModel);
    checks.push(...own.map((c) => ({ ...c, name: `${table} ${c.name}` })));
  }
  return checks;
}

export function formatCheck(c: Check): string {
  const width = Math.max(16, c.name.length);
  return `${c.ok ? '✔' : '✘'} ${c.name.padEnd(width)} ${c.found}${c.ok || !c.fix ? '' : `\n  ${' '.repeat(width)} fix: ${c.fix}`}`;
}

export async function runChecks(
  ctx: Pick<CommandContext, 'env' | 'stderr' | 'cwd' | 'signal'>, config: Config, loadModel: boolean,
): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Check) => { checks.push(c); return c.ok; };
  const client = createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-doctor' });
  try {
    await client.connect();
  } catch (err) {
    add({ ok: false, name: 'database',
      found: explainError(err, {
        databaseUrl: config.databaseUrl, model: config.model.model, hfEndpoint: config.model.hfEndpoint, pgEnv: ctx.env,
      }).split('\n')[0]!,
      fix: 'start the database or set DATABASE_URL (or PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)' });
    return [...checks, ...await modelChecks(ctx, config, loadModel, undefined)];
  }
  try {
    const v = (await client.query<{ v: string; u: string; db: string }>(loadSql('doctor-server'))).rows[0]!;
    for (const c of versionChecks(await readServerVersions(client), `database ${v.db} as ${v.u}`)) add(c);

    const table = quoteQualified(config.source.table);
    let info: SourceInfo | undefined;
    try {
      info = await inspectSource(client, config.source);
      // The id column names one row (primary key or unique, not null): migrate refuses the table otherwise.
      await checkIdColumn(client, config.source);
      add({ ok: true, name: 'source table', found: `${table}, id column ${config.source.idColumn} (${info.sql.idType}), one row per id` });
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      add({ ok: false, name: 'source table', found: err.fix ? err.message.replace(` Add it with: ${err.fix}`, '') : err.message,
        fix: err.fix ?? 'set EMBEDSYNC_TABLE, EMBEDSYNC_ID_COLUMN and EMBEDSYNC_TEXT_COLUMNS to your table (docs/configuration.md)' });
      // Not a table migrate would take: its schema and trigger checks would only repeat this.
      info = undefined;
    }
    const installed = (await client.query<{ ok: boolean }>(loadSql('doctor-installed'))).rows[0]!.ok;
    const migrated = info !== undefined && installed && info.missingColumns.length === 0;
    // The table's logical capture, if any: the slot and what the server keeps for it (catalog reads only).
    const names = info && await captureNames(client, info.sql);
    const capture = names && await captureState(client, names);
    if (info && capture) {
      add(migrated ? { ok: true, name: 'schema', found: `schema embedsync and the embedding columns of ${table} present` }
        : { ok: false, name: 'schema',
          found: installed ? `${table} lacks ${info.missingColumns.join(', ')}` : 'schema embedsync is not installed',
          fix: 'embedsync migrate' });
      const { n: triggers, updateWhen, updateCompiled } = await triggerState(client, table);
      // UPDATE, DELETE, TRUNCATE; INSERT too unless the watch takes inserts (ids from a sequence and the new-rows
      // index ready: src/db/new-rows-index.ts). A chunked table has two more: its chunks go with DELETE and TRUNCATE.
      // A partitioned table has one more, for rows moved between partitions (sql/source-move-trigger.sql).
      // Logical capture: DELETE and TRUNCATE only (inserts and updates come from the WAL).
      const watched = migrated && await newRowsIndexReady(client, info.sql) &&
        await idsFromSequence(client, info.sql, config.source.idColumn);
      const moves = migrated && await isPartitioned(client, info.sql.table) ? 1 : 0;
      const want = (capture.slot ? 2 : 3 + (watched ? 0 : 1) + moves) + (info.sql.chunking ? 2 : 0);
      const inserts = capture.slot ? ' (inserts and updates: logical capture)'
        : watched ? ' (inserts: the daemons\' watch, no INSERT trigger)' : '';
      const updates = capture.slot ? '' : await updateFunctionText(client, updateCompiled);
      const found = `${want} embedsync triggers enabled on ${table}${inserts}${updates}`;
      if (triggers !== want) {
        add({ ok: false, name: 'triggers', found: `${triggers} of ${found}`,
          fix: 'embedsync migrate (re)installs them; ALTER TABLE ... ENABLE TRIGGER if they were disabled' });
      } else if (updateWhen) {
        // Correct but dear: its WHEN is rebuilt in every statement that fires it (docs/sync.md, Triggers).
        add({ ok: false, name: 'triggers', fix: 'embedsync migrate replaces it',
          found: `${found}, the UPDATE trigger an earlier version's (its comparison in a WHEN costs every text update)` });
      } else {
        add({ ok: true, name: 'triggers', found });
      }
    }
    if (info && migrated) add(await privilegeCheck(client, config, table));
    if (migrated && names && capture?.slot) {
      const behind = capture.lagBytes ?? 0;
      add(capture.walLevel === 'logical' && capture.mayReplicate && behind < CAPTURE_LAG_WARN_BYTES
        ? { ok: true, name: 'capture', found: `logical, slot ${names.slot}: ${formatBytes(behind)} of WAL not read yet` }
        : { ok: false, name: 'capture', found: `logical, slot ${names.slot}: ${formatBytes(behind)} of WAL kept for it` +
            (capture.mayReplicate ? '' : '; this role may not read replication slots') +
            (capture.walLevel === 'logical' ? '' : `; wal_level is ${capture.walLevel}`),
          fix: 'run a daemon for the table (embedsync run) as a role WITH REPLICATION; ' +
            'to stop the capture: EMBEDSYNC_CAPTURE=triggers embedsync migrate, or embedsync remove' });
    }

    const state = info && installed ? await readModelState(client, info.sql.sourceKey) : undefined;
    checks.push(...await modelChecks(ctx, config, loadModel, state));

    if (info && migrated) {
      const q = await queueOps(client, info.sql, 0).stats();
      const behind = q.oldestSeconds > STALE_QUEUE_SECONDS;
      add({ ok: !behind, name: 'queue', found: `${q.queued} queued, ${q.leased} leased, oldest ${Math.round(q.oldestSeconds)} s`,
        fix: 'no daemon is keeping up: start `embedsync run` (or more of them), and see `embedsync status`' });
      add({ ok: q.deadlettered === 0, name: 'dead letters',
        found: `${q.deadlettered} row${q.deadlettered === 1 ? '' : 's'} failed every attempt`,
        fix: '`embedsync deadletter list` shows why; fix the cause, then `embedsync deadletter retry --all`' });
      const s = await getIndexStatus(client, info.sql, config.source.embeddingColumn, indexPolicyOf(config.source));
      const due = s.decision.action === 'build' || s.decision.action === 'rebuild' || s.decision.action === 'drop' || s.invalid.length > 0;
      add({ ok: !due, name: 'index',
        found: `${s.index ? `${s.index.name} (${s.index.kind})` : 'no index'}: ${s.decision.action}, ${s.decision.reason}` +
        (s.invalid.length ? `; invalid leftovers ${s.invalid.map((x) => x.name).join(', ')}` : ''),
      fix: 'embedsync index rebuild' });
    }
    return checks;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A slot this far behind holds that much WAL on the server's disk: doctor says so. */
const CAPTURE_LAG_WARN_BYTES = 1024 ** 3;

function formatBytes(n: number): string {
  return n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${(n / 1024).toFixed(0)} kB`;
}

/**
 * The table's enabled embedsync triggers, whether its UPDATE trigger is an earlier version's (with a WHEN), and
 * whether it calls the compiled function.
 */
async function triggerState(client: pg.Client, table: string):
  Promise<{ readonly n: number; readonly updateWhen: boolean; readonly updateCompiled: boolean }> {
  const { rows: [r] } = await client.query<{ n: number; update_when: boolean; update_compiled: boolean }>(
    loadSql('doctor-triggers'), [table]);
  return { n: r!.n, updateWhen: r!.update_when, updateCompiled: r!.update_compiled };
}

/**
 * Which function the UPDATE trigger calls, for the triggers check: said when compiled, when migrate would switch, or
 * when the server has the extension for this database to create.
 */
async function updateFunctionText(client: pg.Client, compiled: boolean): Promise<string> {
  if (compiled) return ', updates: the compiled function';
  // Whether migrate would have the UPDATE trigger call the compiled function (sql/capture-compiled.sql).
  const { rows: [r] } = await client.query<{ installed: boolean; available: boolean; usable: boolean }>(loadSql('capture-compiled'));
  if (r!.usable) return ', updates: the PL/pgSQL function (embedsync_capture is installed: migrate switches to it)';
  if (r!.available && !r!.installed) {
    return ', updates: the PL/pgSQL function (embedsync_capture is available on this server: docs/sync.md#the-compiled-update-function)';
  }
  return '';
}

/** What the daemon needs, for the user DATABASE_URL connects as (see docs/security.md for the roles). */
async function privilegeCheck(client: pg.Client, config: Config, table: string): Promise<Check> {
  const s = config.source;
  const read = [s.idColumn, ...(s.documentSql === undefined ? s.textColumns : []),
    s.embeddingColumn, s.checksumColumn, s.embeddedAtColumn, s.textHashColumn, s.fulltextColumn];
  const write = [s.embeddingColumn, s.checksumColumn, s.embeddedAtColumn, s.textHashColumn, s.fulltextColumn];
  // One privilege per test: has_table_privilege with a list answers true when *any* of them is held.
  // The table's change log, once a migrate of this version has made it (the daemon moves it into the queue).
  const log = changeLogName(stemOf(s.table));
  const hasLog = (await client.query<{ ok: boolean }>(loadSql('schema-has-table'), [log])).rows[0]!.ok;
  const tables: readonly (readonly [string, string])[] = [
    ['embedsync.queue', 'SELECT'], ['embedsync.queue', 'INSERT'], ['embedsync.queue', 'UPDATE'], ['embedsync.queue', 'DELETE'],
    ['embedsync.deadletter', 'SELECT'], ['embedsync.deadletter', 'INSERT'], ['embedsync.deadletter', 'DELETE'],
    ['embedsync.state', 'SELECT'], ...(hasLog ? [[log, 'SELECT'], [log, 'DELETE']] as const : []),
  ];
  const columns = [...read.map((c) => [c, 'SELECT'] as const), ...write.map((c) => [c, 'UPDATE'] as const)];
  const { rows } = await client.query<{ what: string; ok: boolean }>(loadSql('doctor-privileges'),
    [tables.map((t) => t[0]), tables.map((t) => t[1]), columns.map((c) => c[0]), columns.map((c) => c[1]), table]);
  const missing = rows.filter((r) => !r.ok).map((r) => r.what);
  return missing.length === 0
    ? { ok: true, name: 'privileges', found: 'this role may read the source and write vectors and the queue' }
    : { ok: false, name: 'privileges', found: `this role lacks ${missing.join('; ')}`,
      fix: 'GRANT them to the daemon\'s role (docs/security.md gives the statements)' };
}

async function modelChecks(
  ctx: Pick<CommandContext, 'env' | 'stderr' | 'cwd' | 'signal'>, config: Config, loadModel: boolean, state: ModelState | undefined,
): Promise<Check[]> {
  if (!loadModel) return [];
  const { createEncoder } = await import('../encoder/index.ts');
  let encoder;
  try {
    encoder = await createEncoder(config.model, { cwd: ctx.cwd, signal: ctx.signal });
  } catch (err) {
    const message = explainError(err, {
      databaseUrl: config.databaseUrl, model: config.model.model, hfEndpoint: config.model.hfEndpoint, pgEnv: ctx.env,
    });
    const [first, ...rest] = message.split('\n');
    return [{ ok: false, name: 'model', found: `EMBEDDING_MODEL=${config.model.model} does not load: ${first}`,
      fix: rest.length ? rest.map((l) => l.trim().replace(/^fix: /, '')).join(' ')
        : 'set EMBEDDING_MODEL to a model folder or a reachable hub id (docs/models.md)' }];
  }
  try {
    const i = encoder.info;
    const loaded: Check = { ok: true, name: 'model', found: `${i.name}: ${i.dimensions} dimensions, checksum ${i.checksum}` };
    if (!state) return [loaded];
    const same = state.checksum === i.checksum;
    return [loaded, {
      ok: same, name: 'model checksum',
      found: same ? `the table's vectors are from this model (${state.checksum})`
        : `the table's vectors are from ${state.model} (${state.checksum}, ${state.dimensions} dimensions), ` +
          `EMBEDDING_MODEL is ${i.name} (${i.checksum}, ${i.dimensions})`,
      fix: 'embedsync migrate (re-embeds for the new model), or set EMBEDDING_MODEL back to the recorded model',
    }];
  } finally {
    await encoder.close();
  }
}
