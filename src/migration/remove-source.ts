// `embedsync remove`: takes embedsync off one table. Triggers, generated functions, queue entries, dead
// letters, model state, sweep rows, index record and recorded settings go in one short-lock transaction (so
// the table never feeds a queue nobody owns), then the sweep's and the new-rows partial indexes; with dropColumns the managed
// columns too (their vector index goes with them). The application's own writes to the table work unchanged
// afterwards. Under the migrate lock, so it never interleaves with a migrate of any table.
import type pg from 'pg';
import { dropChunkTable } from '../db/chunk-table.ts';
import type { SourceConfig } from '../config/index.ts';
import { releaseMigrateLock, takeMigrateLock } from '../db/migrate-lock.ts';
import { mainColumns, nextColumns } from '../db/model-state.ts';
import { isPartitioned, dropIndex } from '../db/partitioned-index.ts';
import { quoteIdent, quoteQualified } from '../db/quote.ts';
import { withShortLocks } from '../db/short-lock.ts';
import { sourceKeyOf, sourceSql, stemOf, type SourceSql } from '../db/source-sql.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';
import { sweepIndexName } from '../db/sweep-index.ts';
import { newRowsIndexName } from '../db/new-rows-index.ts';
import { removeCapture } from '../db/logical-capture.ts';
import { findVectorIndexes, schemaOf } from '../db/vector-index.ts';
import { upgradeSchema } from './schema-install.ts';
import { dropColumnSet } from './column-sets.ts';

export interface RemovalPlan {
  readonly sourceKey: string;
  /** false: the table itself is gone; only embedsync's records of it remain. */
  readonly tableExists: boolean;
  readonly triggers: readonly string[];
  readonly functions: readonly string[];
  readonly queued: number;
  readonly deadlettered: number;
  readonly state: boolean;
  readonly sweepRows: number;
  readonly indexRecord: boolean;
  readonly settings: boolean;
  /** The unqualified embedsync.similar_to / search / hybrid_search serve this table and go with it. */
  readonly searchDefault: boolean;
  /** The sweep's and the new-rows partial indexes (they go with the checksum column when the columns go). */
  readonly partialIndexes: readonly string[];
  /** The columns that go: a model migration's shadow ones, and with dropColumns the managed ones. */
  readonly columns: readonly string[];
  readonly dropColumns: boolean;
  /** The vector indexes that go with the columns. */
  readonly vectorIndexes: readonly string[];
}

export interface RemoveOptions {
  readonly dropColumns?: boolean;
  readonly dryRun?: boolean;
  readonly lockTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export async function removeSource(client: pg.Client, source: SourceConfig, o: RemoveOptions = {}): Promise<RemovalPlan> {
  await takeMigrateLock(client);
  try {
    // An installation from before the recorded settings gets the schema they live in (forward-only, harmless).
    if (!o.dryRun) await upgradeSchema(client, sourceKeyOf(source));
    const s = await sqlOf(client, source);
    const plan = await planRemoval(client, source, s, o.dropColumns ?? false);
    if (o.dryRun) return plan;
    await withShortLocks(client, async () => {
      await client.query(renderSql('remove-triggers', s));
      // A chunked table's chunks, their triggers and passage search (nothing to drop for an unchunked one).
      await dropChunkTable(client, s);
      if (plan.searchDefault) await client.query(loadSql('remove-default-search'));
      await client.query(loadSql('remove-records'), [plan.sourceKey]);
      // A model migration's shadow columns are embedsync's alone (no search reads them): they always go.
      if (plan.tableExists) await dropColumnSet(client, s, nextColumns(source));
      if (o.dropColumns && plan.tableExists) await client.query(renderSql('remove-columns', s));
    }, { lockTimeoutMs: o.lockTimeoutMs ?? 5000, ...(o.signal ? { signal: o.signal } : {}) });
    // Outside the transaction: CONCURRENTLY on a plain table, so writers are not blocked while it goes.
    // The capture slot, so the server stops keeping WAL for a table nobody reads (and its publication).
    await removeCapture(client, s);
    if (!o.dropColumns) {
      for (const index of plan.partialIndexes) await dropIndex(client, schemaOf(s), index, await isPartitioned(client, s.table));
    }
    return plan;
  } finally {
    await releaseMigrateLock(client);
  }
}

type TableSql = SourceSql & { readonly exists: boolean; readonly partialIndexes: readonly string[] };

/** The table's SQL fragments; for a table already dropped, the names alone (no id type to read). */
async function sqlOf(client: pg.Client, source: SourceConfig): Promise<TableSql> {
  const bare = sourceSql(source, 'text');
  const indexes = [sweepIndexName(bare), newRowsIndexName(bare)];
  const { rows } = await client.query<{ exists: boolean; id_type: string | null; indexes: boolean[] }>(loadSql('remove-table'),
    [quoteQualified(source.table), source.idColumn, indexes.map((i) => `${schemaOf(bare)}.${quoteIdent(i)}`)]);
  const r = rows[0]!;
  return { ...sourceSql(source, r.id_type ?? 'text'), exists: r.exists, partialIndexes: indexes.filter((_, i) => r.indexes[i]) };
}

async function planRemoval(client: pg.Client, source: SourceConfig, s: TableSql, dropColumns: boolean): Promise<RemovalPlan> {
  const stem = stemOf(source.table);
  const names = ['ins', 'upd', 'mov', 'del', 'trunc', 'similar_to', 'search', 'hybrid_search', 'chunk_del', 'chunk_trunc', 'search_chunks']
    .map((n) => `${stem}_${n}`).concat(`doc_${stem}`);
  const hasSchema = (await client.query<{ ok: boolean }>(loadSql('schema-has-table'), ['embedsync.sources'])).rows[0]!.ok;
  const empty = {
    triggers: [], functions: [], queued: 0, deadlettered: 0, state: false, sweep: 0, index_record: false, settings: false,
    search_default: false,
  };
  const r = hasSchema
    ? (await client.query<typeof empty & { triggers: string[]; functions: string[] }>(loadSql('remove-plan'),
      [s.sourceKey, s.table, names])).rows[0]!
    : empty;
  const columns: string[] = [];
  const vectorIndexes: string[] = [];
  if (s.exists) {
    const managed = [
      ...(dropColumns ? [...(Object.values(mainColumns(source)) as string[]), source.embeddedAtColumn, source.fulltextColumn] : []),
      ...(Object.values(nextColumns(source)) as string[]),
    ];
    for (const c of managed) {
      const n = (await client.query<{ n: number }>(loadSql('column-present'), [s.table, c])).rows[0]!.n;
      if (n > 0) columns.push(c);
    }
    for (const c of [source.embeddingColumn, nextColumns(source).embedding]) {
      if (columns.includes(c)) vectorIndexes.push(...(await findVectorIndexes(client, s, c)).map((i) => i.name));
    }
  }
  return {
    sourceKey: s.sourceKey, tableExists: s.exists, triggers: r.triggers, functions: r.functions, queued: r.queued,
    deadlettered: r.deadlettered, state: r.state, sweepRows: r.sweep, indexRecord: r.index_record, settings: r.settings,
    searchDefault: r.search_default, partialIndexes: s.partialIndexes, columns, vectorIndexes, dropColumns,
  };
}

/** What remove did (or, dry, would do), one line per kind of object. */
export function describeRemoval(p: RemovalPlan, dryRun: boolean): string[] {
  const verb = dryRun ? 'would drop' : 'dropped';
  const del = dryRun ? 'would delete' : 'deleted';
  const list = (xs: readonly string[]) => (xs.length ? xs.join(', ') : 'none');
  return [
    `${dryRun ? 'plan for removing' : 'removed'} embedsync from ${p.sourceKey}${p.tableExists ? '' : ' (the table no longer exists)'}:`,
    `  ${verb} triggers: ${list(p.triggers)}`,
    `  ${verb} functions: ${list([...p.functions.map((f) => `embedsync.${f}`),
      ...(p.searchDefault ? ['embedsync.similar_to', 'embedsync.search', 'embedsync.hybrid_search'] : [])])}`,
    `  ${del} ${p.queued} queue entries, ${p.deadlettered} dead letters`,
    `  ${del} records: ${list([p.state && 'model state', p.sweepRows > 0 && `${p.sweepRows} sweep rows`, p.indexRecord && 'index record',
      p.settings && 'recorded settings', p.searchDefault && 'search default'].filter((x): x is string => typeof x === 'string'))}`,
    ...(p.columns.length
      ? [`  ${verb} columns ${p.columns.join(', ')}${p.vectorIndexes.length ? ` and index ${p.vectorIndexes.join(', ')}` : ''}`]
      : []),
    ...(p.dropColumns || !p.tableExists ? [] : ['  kept the embedding columns and their index (--drop-columns drops them)']),
    ...(p.partialIndexes.length && !p.dropColumns
      ? [`  ${verb} ${p.partialIndexes.length > 1 ? 'indexes' : 'index'} ${p.partialIndexes.join(', ')}`]
      : []),
  ];
}
