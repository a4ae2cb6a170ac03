// A switch of EMBEDSYNC_VECTOR_TYPE (vector <-> halfvec) is a shadow migration to the same model: the shadow
// columns take the new type, and rather than encoding every row again, the current vectors are copied into
// them (cast by the database) in keyset chunks. The backfill that follows encodes only the rows whose main
// vector was missing or stale, exactly as for a model change.
import type pg from 'pg';
import type { VectorColumns } from '../db/model-state.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { renderSql } from '../db/sql-template.ts';

const COPY_CHUNK_ROWS = 5000;

/** Copies model `checksum`'s vectors from the `main` columns into the shadow ones `nextSql` names; returns the rows copied. */
export async function copyVectors(client: pg.Client, nextSql: SourceSql, main: VectorColumns, checksum: string,
  o: { signal?: AbortSignal; chunkRows?: number } = {}): Promise<number> {
  const text = renderSql('shadow-copy-chunk', nextSql, { from: main });
  let after: string | null = null;
  let copied = 0;
  do {
    o.signal?.throwIfAborted();
    const r: { last: string | null; copied: number } = (await client.query<{ last: string | null; copied: number }>(
      text, [after, o.chunkRows ?? COPY_CHUNK_ROWS, checksum])).rows[0]!;
    copied += r.copied;
    after = r.last;
  } while (after !== null);
  return copied;
}
