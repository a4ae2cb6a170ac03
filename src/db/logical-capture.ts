// Logical capture (EMBEDSYNC_CAPTURE=logical): a table's inserts and updates are read from the WAL through a
// replication slot and a publication of its ids, instead of triggers, so the application's statements pay
// nothing for them. The daemons' watch reads the slot (src/sync/capture-look.ts). Needs wal_level=logical and a
// role that may use replication slots; the server keeps WAL until the daemons have read it (docs/sync.md).
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Capture } from '../config/index.ts';
import type { Queryable } from './pool.ts';
import type { SourceSql } from './source-sql.ts';
import { loadSql, renderSql } from './sql-template.ts';
import { inTransaction } from './transaction.ts';

export interface CaptureNames {
  /** Replication slots are per server: the name comes from the database and the table. */
  readonly slot: string;
  readonly publication: string;
}

export interface CaptureState {
  readonly walLevel: string;
  readonly slot: boolean;
  /** Bytes of WAL the server keeps for the slot; undefined without one. */
  readonly lagBytes: number | undefined;
  readonly publication: boolean;
  readonly mayReplicate: boolean;
}

export async function captureNames(db: Queryable, s: SourceSql): Promise<CaptureNames> {
  const database = (await db.query<{ db: string }>(loadSql('current-database'))).rows[0]!.db;
  const hash = createHash('sha256').update(`${database}/${s.sourceKey}`).digest('hex').slice(0, 24);
  return { slot: `embedsync_${hash}`, publication: `${s.stem}_capture` };
}

export async function captureState(db: Queryable, names: CaptureNames): Promise<CaptureState> {
  const r = (await db.query<{
    wal_level: string; slot: boolean; lag_bytes: string | null; publication: boolean; may_replicate: boolean | null;
  }>(
    loadSql('capture-state'), [names.slot, names.publication])).rows[0]!;
  return {
    walLevel: r.wal_level, slot: r.slot, lagBytes: r.lag_bytes === null ? undefined : Number(r.lag_bytes), publication: r.publication,
    mayReplicate: r.may_replicate === true,
  };
}

/** What stops logical capture from being set up here, said so the operator can fix it; undefined: nothing. */
export async function logicalCaptureProblem(db: Queryable, s: SourceSql): Promise<string | undefined> {
  const st = await captureState(db, await captureNames(db, s));
  const problems = [
    st.walLevel !== 'logical' && `the server runs with wal_level=${st.walLevel}: ` +
      'set wal_level = logical (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)',
    !st.mayReplicate && 'this role may not use replication slots: ALTER ROLE ... WITH REPLICATION (or migrate as a superuser)',
  ].filter((p): p is string => typeof p === 'string');
  return problems.length ? `EMBEDSYNC_CAPTURE=logical: ${problems.join('; ')}` : undefined;
}

/**
 * Sets up the capture `wanted` (undefined: keep what the table has, triggers for a new one) after migrate has
 * installed the triggers: for logical, the publication and the slot first, then the INSERT and UPDATE triggers go
 * (a change in between is queued twice, which costs nothing); for triggers, a slot of an earlier logical setup goes.
 */
export async function installCapture(client: pg.Client, s: SourceSql, wanted: Capture | undefined): Promise<Capture> {
  const names = await captureNames(client, s);
  const st = await captureState(client, names);
  const capture = wanted ?? (st.slot ? 'logical' : 'triggers');
  if (capture === 'logical') {
    if (!st.publication) await client.query(renderSql('capture-publication', s));
    if (!st.slot) await client.query(loadSql('capture-slot-create'), [names.slot]);
    await inTransaction(client, async () => {
      await client.query(loadSql('lock-timeout-local'), ['5s']);
      await client.query(renderSql('capture-triggers-drop', s));
    });
  } else {
    await removeCapture(client, s);
  }
  return capture;
}

/** Drops the slot and the publication, if there are any (migrate back to triggers, remove). */
export async function removeCapture(db: Queryable, s: SourceSql): Promise<void> {
  const names = await captureNames(db, s);
  await db.query(loadSql('capture-slot-drop'), [names.slot]);
  await db.query(renderSql('capture-publication-drop', s));
}
