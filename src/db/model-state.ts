// The model state of a source as embedsync.state records it, including a model migration under way, and
// the shadow column names a model migration uses. The state is read and written only through
// state-repository.ts, so the daemon, migrate, status and the search functions agree on which column holds
// which model's vectors.
import { identifierProblem, type SourceConfig } from '../config/index.ts';
import { quoteIdent } from './quote.ts';
import type { SourceSql } from './source-sql.ts';

/** Steps of a dimension migration, in order; migration_step holds the last one completed. */
export const MIGRATION_STEPS = ['started', 'columns', 'backfilled', 'indexed', 'swapped'] as const;
export type MigrationStep = (typeof MIGRATION_STEPS)[number];

export interface ModelState {
  readonly model: string;
  readonly checksum: string;
  readonly dimensions: number;
  readonly migration: {
    readonly model: string;
    readonly checksum: string;
    readonly dimensions: number;
    readonly step: MigrationStep;
    readonly started: Date;
  } | undefined;
}

/** The managed columns that carry one model's vectors (embedded_at is shared). */
export interface VectorColumns {
  readonly embedding: string;
  readonly checksum: string;
  readonly textHash: string;
}

function suffixed(c: VectorColumns, suffix: string): VectorColumns {
  const name = (n: string): string => {
    const s = `${n}${suffix}`;
    const p = identifierProblem(s);
    if (p) throw new Error(`column ${n} is too long for its migration column ${s}: ${p}`);
    return s;
  };
  return { embedding: name(c.embedding), checksum: name(c.checksum), textHash: name(c.textHash) };
}

export function mainColumns(source: SourceConfig): VectorColumns {
  return { embedding: source.embeddingColumn, checksum: source.checksumColumn, textHash: source.textHashColumn };
}

/** Where the new model's vectors go while a dimension migration backfills. */
export function nextColumns(source: SourceConfig): VectorColumns {
  return suffixed(mainColumns(source), '_next');
}

/** The same SQL fragments, aimed at the shadow columns: one write path serves both column sets. */
export function withColumns(s: SourceSql, c: VectorColumns): SourceSql {
  return { ...s, embedding: quoteIdent(c.embedding), checksum: quoteIdent(c.checksum), textHash: quoteIdent(c.textHash), shadow: true };
}

/** Which columns a writer holding model `checksum` should fill, per the state. */
export type WriteTarget =
  | { readonly kind: 'main' | 'next'; readonly sql: SourceSql }
  | { readonly kind: 'idle'; readonly reason: string };

export function writeTargetFor(state: ModelState | undefined, checksum: string, main: SourceSql, next: () => SourceSql): WriteTarget {
  if (!state) return { kind: 'idle', reason: 'not migrated: run `embedsync migrate`' };
  const m = state.migration;
  // The shadow columns exist from step `columns` until the swap renames them to the main ones.
  if (m && m.checksum === checksum && m.step !== 'started' && m.step !== 'swapped') return { kind: 'next', sql: next() };
  if (state.checksum === checksum) return { kind: 'main', sql: main };
  const pending = m && m.checksum === checksum ? ` (migration to it at step ${m.step})` : '';
  return {
    kind: 'idle',
    reason: `this model (${checksum}) is not the one recorded by migrate (${state.checksum})${pending}: ` +
      'run `embedsync migrate` with this model, or restart with the recorded one',
  };
}
