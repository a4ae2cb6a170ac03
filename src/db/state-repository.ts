// Every read and write of embedsync.state, one statement each from sql/state-*.sql: the recorded model of a
// source and the model migration under way. The daemon, migrate, status and doctor all go through here, so
// they agree on what the row means (and a migration is cleared by one statement, however it ends).
import type { MigrationStep, ModelState } from './model-state.ts';
import type { Queryable } from './pool.ts';
import { loadSql } from './sql-template.ts';

/** The model a source's columns take, or a migration's target. */
export interface ModelIdentity {
  readonly name: string;
  readonly checksum: string;
  readonly dimensions: number;
}

interface StateRow {
  model: string;
  model_checksum: string;
  dimensions: number;
  // Absent on a database whose schema predates model migrations (state-read.sql reads SELECT *).
  target_model?: string | null;
  target_checksum?: string | null;
  target_dimensions?: number | null;
  migration_step?: MigrationStep | null;
  migration_started?: Date | null;
}

export async function readModelState(db: Queryable, sourceKey: string): Promise<ModelState | undefined> {
  const r = (await db.query<StateRow>(loadSql('state-read'), [sourceKey])).rows[0];
  if (!r) return undefined;
  return {
    model: r.model,
    checksum: r.model_checksum,
    dimensions: r.dimensions,
    migration: r.migration_step && r.target_checksum && r.target_model && r.target_dimensions
      ? {
        model: r.target_model, checksum: r.target_checksum, dimensions: r.target_dimensions, step: r.migration_step,
        started: r.migration_started ?? new Date(0),
      }
      : undefined,
  };
}

/** Embedsync's own tables that callers may find missing (not migrated yet, or by an older version). */
export const SCHEMA_TABLES = ['state', 'queue', 'deadletter', 'vector_index', 'sweep', 'vector_count'] as const;
export type SchemaTable = (typeof SCHEMA_TABLES)[number];

export async function hasSchemaTable(db: Queryable, table: SchemaTable): Promise<boolean> {
  return (await db.query<{ ok: boolean }>(loadSql('schema-has-table'), [`embedsync.${table}`])).rows[0]!.ok;
}

/** Records `model` as the one the source's main columns take (a no-op when it already is). */
export async function recordModel(db: Queryable, sourceKey: string, model: ModelIdentity): Promise<void> {
  await db.query(loadSql('state-record-model'), [sourceKey, model.name, model.checksum, model.dimensions]);
}

export async function beginMigration(db: Queryable, sourceKey: string, target: ModelIdentity): Promise<void> {
  await db.query(loadSql('state-begin-migration'), [sourceKey, target.name, target.checksum, target.dimensions]);
}

export async function setMigrationStep(db: Queryable, sourceKey: string, step: MigrationStep): Promise<void> {
  await db.query(loadSql('state-set-step'), [sourceKey, step]);
}

/** The migration's target becomes the recorded model (inside the swap's transaction). */
export async function swapToTarget(db: Queryable, sourceKey: string): Promise<void> {
  await db.query(loadSql('state-swap'), [sourceKey]);
}

/** Forgets the migration under way: when it finished, was aborted or its columns were dropped in place. */
export async function clearMigration(db: Queryable, sourceKey: string): Promise<void> {
  await db.query(loadSql('state-clear-migration'), [sourceKey]);
}

/** Every other source recorded in this database. */
export async function otherSources(db: Queryable, sourceKey: string): Promise<string[]> {
  return (await db.query<{ source: string }>(loadSql('state-other-sources'), [sourceKey])).rows.map((r) => r.source);
}
