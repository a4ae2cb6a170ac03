// The encode rate migrate's --dry-run quotes its time estimate from, measured rather than assumed: model,
// machine and document length all change it several-fold.
import type { Queryable } from '../db/pool.ts';
import type { SourceInfo } from '../db/source-info.ts';
import { renderSql } from '../db/sql-template.ts';
import type { Encoder } from '../encoder/types.ts';

/** Documents per second of `encoder` on a sample of the table's own documents (what the backfill will see). */
export async function measureEncodeRate(db: Queryable, info: SourceInfo, encoder: Encoder, sample = 64): Promise<number> {
  const { rows } = await db.query<{ d: string }>(renderSql('encode-sample', info.sql), [sample, info.sql.sourceKey]);
  const docs = rows.length ? rows.map((r) => r.d)
    : Array.from({ length: sample }, (_, i) => `sample document ${i} about a flat in the city centre`);
  await encoder.encode(docs.slice(0, 4), 'document'); // warm-up: first runs allocate
  const t0 = performance.now();
  await encoder.encode(docs, 'document');
  return docs.length / Math.max(1e-6, (performance.now() - t0) / 1000);
}
