// The vector index of the source's embedding column: when to build it, with how many ivfflat lists, and
// when it has drifted far enough from its training data to need a rebuild.
//
// ivfflat learns its list centroids from the rows present at build time: built on an empty or tiny table
// the centroids are meaningless and recall collapses as rows arrive, so it is built only once there are
// enough rows to train (>= minRows and >= 10 x lists), with pgvector's guidance for lists (rows/1000 up
// to 1M rows, sqrt(rows) above), and rebuilt when the row count has moved by more than growthFactor since.
// HNSW needs no training and follows inserts by itself. Builds are CREATE INDEX CONCURRENTLY (readers and
// writers carry on) under a new name, then the old index is dropped and the new one renamed.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { IndexKind } from '../config/index.ts';
import { quoteIdent } from './quote.ts';
import type { Queryable } from './pool.ts';
import type { SourceSql } from './source-sql.ts';
import { withShortLocks } from './short-lock.ts';
import { loadSql, renderCatalogSql } from './sql-template.ts';
import { countVectorsStored, estimateVectors, type VectorRange } from './vector-count.ts';
import { createPartitionedIndex, dropIndex, isPartitioned, type VectorIndexSpec } from './partitioned-index.ts';

export { countVectors } from './vector-count.ts';

export interface IndexPolicy {
  readonly kind: IndexKind;
  /** Rebuild an ivfflat index when rows/rows_at_build leaves [1/f, f]. */
  readonly growthFactor: number;
  /** Never train ivfflat on fewer rows (below this a sequential scan is fast anyway). */
  readonly minRows: number;
  /** maintenance_work_mem for the build session (the default 64MB makes large builds spill). */
  readonly maintenanceWorkMem: string;
}

export const DEFAULT_INDEX_POLICY: IndexPolicy = { kind: 'ivfflat', growthFactor: 2, minRows: 1000, maintenanceWorkMem: '512MB' };

/** pgvector's guidance: rows/1000 up to 1M rows, sqrt(rows) above. */
export function ivfflatLists(rows: number): number {
  return Math.max(1, rows <= 1_000_000 ? Math.floor(rows / 1000) : Math.floor(Math.sqrt(rows)));
}

/**
 * Bytes pgvector's k-means (ivfkmeans.c) demands of maintenance_work_mem before it starts: the samples (50 per
 * list), the centres twice, and the samples x lists bound matrix that dominates (2 GB at 3,162 lists, which
 * sqrt(rows) gives at 10M rows). Vectors are counted at 4 bytes a dimension, so a halfvec build is overestimated.
 */
export function ivfflatBuildBytes(lists: number, dimensions: number, rows: number): number {
  const samples = Math.min(rows, 50 * lists);
  const item = 8 + 4 * dimensions;
  return samples * item + 2 * lists * item + 4 * samples * lists + 4 * lists * lists + 8 * samples + 12 * lists;
}

/**
 * The most lists, at most `lists`, whose build fits `memoryBytes`: a build over the limit fails outright
 * ("memory required is N MB"), on every later decision too, so fewer lists (a slower but working index) win.
 */
export function listsWithin(lists: number, dimensions: number, rows: number, memoryBytes: number): number {
  let fitted = lists;
  while (fitted > 1 && ivfflatBuildBytes(fitted, dimensions, rows) > 0.95 * memoryBytes) fitted = Math.floor(fitted * 0.97);
  return fitted;
}

const MEMORY_UNITS = { kB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30 } as const;
function memoryBytes(setting: string): number {
  const m = /^(\d+)(kB|MB|GB)$/.exec(setting);
  if (!m) throw new Error(`invalid maintenance_work_mem ${setting}`);
  return Number(m[1]) * MEMORY_UNITS[m[2] as keyof typeof MEMORY_UNITS];
}

/** Index name for a vector column: `<table>_<column>_idx`, shortened with a hash past 63 bytes. */
export function vectorIndexName(s: SourceSql, column: string): string {
  const name = `${s.stem}_${column}_idx`;
  if (name.length <= 63) return name;
  return `${name.slice(0, 50)}_${createHash('md5').update(name).digest('hex').slice(0, 8)}`;
}

/** The quoted schema of the source table (indexes live there). */
export function schemaOf(s: SourceSql): string {
  return quoteIdent(s.sourceKey.slice(0, s.sourceKey.indexOf('.')));
}

export interface ExistingIndex {
  readonly name: string;
  readonly kind: string;
  readonly valid: boolean;
  readonly lists: number | undefined;
}

/** Vector indexes (ivfflat/hnsw) on `column` of the source table, valid or left invalid by a failed build. */
export async function findVectorIndexes(db: Queryable, s: SourceSql, column: string): Promise<ExistingIndex[]> {
  const { rows } = await db.query<{ name: string; kind: string; valid: boolean; options: string[] | null }>(
    loadSql('index-find'), [s.table, column]);
  return rows.map((r) => {
    const lists = r.options?.find((o) => o.startsWith('lists='));
    return { name: r.name, kind: r.kind, valid: r.valid, lists: lists ? Number(lists.slice(6)) : undefined };
  });
}

export interface IndexRecord {
  readonly name: string;
  readonly kind: string;
  readonly lists: number | null;
  readonly dimensions: number;
  readonly rowsAtBuild: number;
  readonly buildSeconds: number;
  readonly builtAt: Date;
}

export async function readIndexRecord(db: Queryable, sourceKey: string): Promise<IndexRecord | undefined> {
  const { rows } = await db.query<{
    name: string; kind: string; lists: number | null; dimensions: number; rows_at_build: string; build_seconds: number; built_at: Date;
  }>(
    loadSql('index-record-read'), [sourceKey]);
  const r = rows[0];
  return r && {
    name: r.name, kind: r.kind, lists: r.lists, dimensions: r.dimensions, rowsAtBuild: Number(r.rows_at_build),
    buildSeconds: r.build_seconds, builtAt: r.built_at,
  };
}

export async function recordIndex(db: Queryable, sourceKey: string, r: Omit<IndexRecord, 'builtAt'>): Promise<void> {
  await db.query(loadSql('index-record-write'), [sourceKey, r.name, r.kind, r.lists, r.dimensions, r.rowsAtBuild, r.buildSeconds]);
}

export interface IndexDecision {
  readonly action: 'build' | 'rebuild' | 'drop' | 'keep' | 'wait';
  readonly reason: string;
  /** Lists a build would use now (ivfflat). */
  readonly lists: number | undefined;
}

/** The rows an ivfflat index was trained on: its record, or without one (made by hand) about 1000 per list. */
function trainedRows(existing: ExistingIndex, record: IndexRecord | undefined): number {
  return record && record.name === existing.name ? record.rowsAtBuild : (existing.lists ?? 1) * 1000;
}

/** What the policy says to do, given the valid index on the column (if any), its record and the row count. */
export function decideIndex(policy: IndexPolicy, existing: ExistingIndex | undefined, record: IndexRecord | undefined, rows: number,
  rowsText = String(rows)): IndexDecision {
  const lists = policy.kind === 'ivfflat' ? ivfflatLists(rows) : undefined;
  if (policy.kind === 'none') {
    return existing ? { action: 'drop', reason: `EMBEDSYNC_INDEX=none but ${existing.name} exists`, lists }
      : { action: 'keep', reason: 'no index wanted (EMBEDSYNC_INDEX=none)', lists };
  }
  if (policy.kind === 'ivfflat' && (rows < policy.minRows || rows < 10 * lists!)) {
    const why = `${rowsText} rows with vectors; ivfflat needs at least ${Math.max(policy.minRows, 10 * lists!)} to train`;
    return existing?.kind === 'ivfflat' ? { action: 'keep', reason: why, lists } : { action: 'wait', reason: why, lists };
  }
  if (!existing) return { action: 'build', reason: 'no index', lists };
  if (existing.kind !== policy.kind) {
    return { action: 'rebuild', reason: `index is ${existing.kind}, EMBEDSYNC_INDEX=${policy.kind}`, lists };
  }
  if (policy.kind === 'hnsw') return { action: 'keep', reason: 'hnsw follows inserts; no rebuild needed', lists };
  const trained = trainedRows(existing, record);
  const ratio = rows / Math.max(1, trained);
  if (ratio > policy.growthFactor || ratio < 1 / policy.growthFactor) {
    return {
      action: 'rebuild',
      reason: `row count drifted ${ratio.toFixed(2)}x since the build (${trained} -> ${rowsText}; limit ${policy.growthFactor}x)`,
      lists,
    };
  }
  return {
    action: 'keep', reason: `trained on ${trained} rows, now ${rowsText} (${ratio.toFixed(2)}x, limit ${policy.growthFactor}x)`, lists,
  };
}

/**
 * The row counts at which decideIndex can change its action: between two consecutive ones it gives the same
 * action throughout. ivfflat trains from max(minRows, 10) rows (10 x lists is below the rows from there on),
 * and an index trained on T rows is rebuilt outside [T / growthFactor, T x growthFactor].
 */
export function decisionThresholds(policy: IndexPolicy, existing: ExistingIndex | undefined, record: IndexRecord | undefined): number[] {
  if (policy.kind !== 'ivfflat') return [];
  const train = Math.max(policy.minRows, 10);
  if (existing?.kind !== 'ivfflat') return [train];
  const trained = Math.max(1, trainedRows(existing, record));
  return [train, trained / policy.growthFactor, trained * policy.growthFactor];
}

/** Whether every row count in the range gets the same decision (no threshold inside it): then no count is needed. */
export function rangeDecides(policy: IndexPolicy, existing: ExistingIndex | undefined, record: IndexRecord | undefined,
  r: VectorRange): boolean {
  const thresholds = decisionThresholds(policy, existing, record);
  return thresholds.length === 0 || (r.basis !== 'unknown' && thresholds.every((t) => t < r.lo || t > r.hi));
}

export interface BuildSpec {
  readonly s: SourceSql;
  readonly column: string;
  readonly name: string;
  readonly kind: 'ivfflat' | 'hnsw';
  readonly lists: number | undefined;
  readonly maintenanceWorkMem: string;
  /** The column's dimensions: with the memory they bound the lists a build can train (listsWithin). */
  readonly dimensions: number;
  /** Rows with a vector (k-means samples at most 50 per list of them). */
  readonly rows: number;
}

/**
 * CREATE INDEX CONCURRENTLY on a session of its own settings; returns the build's seconds. A partitioned
 * table's index is built partition by partition (partitioned-index.ts), each with lists for its own rows.
 */
export async function buildIndex(client: pg.Client | pg.PoolClient, b: BuildSpec): Promise<{ seconds: number; lists: number | undefined }> {
  const partitioned = await isPartitioned(client, b.s.table);
  // A build that died half-way leaves an invalid index of the same name behind: clear it first.
  await dropIndex(client, schemaOf(b.s), b.name, partitioned);
  const memory = memoryBytes(b.maintenanceWorkMem);
  await client.query(loadSql('index-build-memory'), [b.maintenanceWorkMem]);
  const typeRow = (await client.query<{ type: string }>(loadSql('column-type'), [b.s.table, b.column])).rows[0];
  const type = typeRow?.type === 'halfvec' ? 'halfvec' : 'vector';
  const fit = (lists: number | undefined, rows: number) => lists === undefined ? undefined : listsWithin(lists, b.dimensions, rows, memory);
  const index: VectorIndexSpec = { column: b.column, method: b.kind, lists: fit(b.lists, b.rows), type };
  const started = performance.now();
  try {
    if (partitioned) {
      await createPartitionedIndex(client, b.s.table, schemaOf(b.s), b.name, index,
        (rows) => ({ ...index, lists: fit(ivfflatLists(rows), rows) }));
    } else {
      await client.query(renderCatalogSql('index-create', { index: b.name, relation: b.s.table, column: b.column, vectorIndex: index }));
    }
  } finally {
    await client.query(loadSql('index-build-memory-reset')).catch(() => undefined);
  }
  return { seconds: (performance.now() - started) / 1000, lists: index.lists };
}

export interface IndexStatus {
  readonly policy: IndexPolicy;
  readonly column: string;
  readonly index: ExistingIndex | undefined;
  readonly invalid: readonly ExistingIndex[];
  readonly record: IndexRecord | undefined;
  /** Rows with vectors: counted, or the middle of the estimated range when that already decides. */
  readonly rows: number;
  /** Where `rows` comes from ('count': counted just now) and the range it is known to lie in. */
  readonly rowsRange: VectorRange;
  readonly decision: IndexDecision;
}

/**
 * The index, its record and the policy's decision. The rows with vectors come from the statistics and the
 * stored count (src/db/vector-count.ts); the table is counted only when that range straddles a threshold
 * of the decision, or when `exact` asks.
 */
export async function getIndexStatus(db: Queryable, s: SourceSql, column: string, policy: IndexPolicy,
  o: { exact?: boolean } = {}): Promise<IndexStatus> {
  const all = await findVectorIndexes(db, s, column);
  const want = vectorIndexName(s, column);
  const index = all.find((i) => i.valid && i.name === want) ?? all.find((i) => i.valid);
  const record = await readIndexRecord(db, s.sourceKey);
  let range = o.exact ? undefined : await estimateVectors(db, s, column);
  if (!range || !rangeDecides(policy, index, record, range)) range = await countVectorsStored(db, s, column);
  return {
    policy, column, index, invalid: all.filter((i) => !i.valid), record, rows: range.rows, rowsRange: range,
    decision: decideIndex(policy, index, record, range.rows, rowsText(range)),
  };
}

function rowsText(r: VectorRange): string {
  return r.basis === 'count' || r.basis === 'unknown' || r.lo === r.hi ? String(r.rows) : `~${r.rows} (estimated ${r.lo}-${r.hi})`;
}

export interface EnsureResult {
  readonly action: IndexDecision['action'];
  readonly reason: string;
  readonly name: string | undefined;
  readonly lists: number | undefined;
  readonly rows: number;
  readonly buildSeconds: number | undefined;
}

/**
 * Brings the index of `column` in line with the policy: builds, rebuilds (force: even when not due) or drops
 * it. `exact` counts the rows with vectors instead of going by the statistics, whose write counters lag
 * the writes by seconds: for a one-shot command right after the writes (migrate after its backfill). Each
 * step is restartable: leftovers of an interrupted run (an invalid index, a finished `_new` build) are
 * cleaned up or adopted on the next run.
 */
export async function ensureIndex(client: pg.Client | pg.PoolClient, s: SourceSql, column: string, policy: IndexPolicy,
  o: { force?: boolean; dimensions: number; record?: boolean; exact?: boolean }): Promise<EnsureResult> {
  const name = vectorIndexName(s, column);
  const temp = `${name.slice(0, 59)}_new`;
  const schema = schemaOf(s);
  const partitioned = await isPartitioned(client, s.table);
  for (const bad of (await findVectorIndexes(client, s, column)).filter((i) => !i.valid)) {
    await dropIndex(client, schema, bad.name, partitioned);
  }
  let st = await getIndexStatus(client, s, column, policy, { exact: o.exact });
  const building = (x: IndexStatus) => x.decision.action === 'build' || x.decision.action === 'rebuild' ||
    (o.force && x.decision.action === 'keep' && policy.kind !== 'none' && x.index);
  // A build reads the whole table anyway: its lists and recorded rows come from an exact count.
  if (building(st) && st.rowsRange.basis !== 'count') st = await getIndexStatus(client, s, column, policy, { exact: true });
  let d = st.decision;
  if (o.force && d.action === 'keep' && policy.kind !== 'none' && st.index) d = { ...d, action: 'rebuild', reason: 'forced' };
  const result = (extra: Partial<EnsureResult> = {}): EnsureResult =>
    ({
      action: d.action, reason: d.reason, name: st.index?.name, lists: st.index?.lists, rows: st.rows, buildSeconds: undefined, ...extra,
    });
  if (d.action === 'keep' || d.action === 'wait') {
    // A rebuild that stopped after dropping the old index: adopt the new one under the usual name.
    if (st.index && st.index.name !== name && !(await findVectorIndexes(client, s, column)).some((i) => i.name === name)) {
      await withShortLocks(client, () => client.query(renameIndex(schema, st.index!.name, name)));
      return result({ name });
    }
    return result();
  }
  if (d.action === 'drop') {
    await dropIndex(client, schema, st.index!.name, partitioned);
    await client.query(loadSql('index-record-delete'), [s.sourceKey]);
    return result({ name: undefined, lists: undefined });
  }
  const kind = policy.kind as 'ivfflat' | 'hnsw';
  const buildName = st.index ? temp : name;
  const built = await buildIndex(client, {
    s, column, name: buildName, kind, lists: d.lists, maintenanceWorkMem: policy.maintenanceWorkMem, dimensions: o.dimensions,
    rows: st.rows,
  });
  const seconds = built.seconds;
  if (built.lists !== d.lists) {
    d = { ...d, lists: built.lists, reason: `${d.reason}; lists ${built.lists} instead of ${d.lists}, ` +
      `the most a build fits in EMBEDSYNC_INDEX_BUILD_MEMORY=${policy.maintenanceWorkMem}` };
  }
  if (st.index) {
    await dropIndex(client, schema, st.index.name, partitioned);
    await withShortLocks(client, () => client.query(renameIndex(schema, buildName, name)));
  }
  if (o.record !== false) {
    await recordIndex(client, s.sourceKey, {
      name, kind, lists: kind === 'ivfflat' ? d.lists! : null, dimensions: o.dimensions, rowsAtBuild: st.rows, buildSeconds: seconds,
    });
  }
  return result({ name, lists: kind === 'ivfflat' ? d.lists : undefined, buildSeconds: seconds });
}

/** ALTER INDEX <schema>.<from> RENAME TO <to>: a rebuilt or shadow index takes the usual name. */
export function renameIndex(schema: string, from: string, to: string): string {
  return renderCatalogSql('index-rename', { relation: `${schema}.${quoteIdent(from)}`, index: to });
}
