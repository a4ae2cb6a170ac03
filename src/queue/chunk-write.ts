// Queue operations of a chunked source: the row write (sql/write-embeddings.sql, unchanged) and the replacement
// of the written rows' chunks run in one transaction on one connection. The row write's UPDATE is the guard:
// it writes a row only while its document still hashes to what was encoded, and holds the row's lock until
// commit; the chunks are replaced for exactly the rows it wrote, by the model it wrote with. So a chunk of an
// old version of a document never outlives the write of a newer one, a write that lost the race to an edit
// leaves the chunks alone (the edit is queued and encoded again), and no reader ever sees a row's new vector
// with its old chunks or the other way round. Rows written blank get no chunks; deleted rows lose theirs in
// the DELETE's own transaction (sql/chunk-table.sql's trigger).
import type pg from 'pg';
import { chunksOf } from '../encoder/chunking-encoder.ts';
import type { Queryable } from '../db/pool.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { renderSql } from '../db/sql-template.ts';
import { inTransaction } from '../db/transaction.ts';
import { encodeVectorArray } from '../db/vector-binary.ts';
import { queueOps, type QueueOps, type WriteItem } from './queue.ts';

/** queueOps, with writes that replace the chunks of the rows they write when the source is chunked. */
export function chunkedQueueOps(db: Queryable, s: SourceSql, vectorOid: number): QueueOps {
  const base = queueOps(db, s, vectorOid);
  if (!s.chunking) return base;
  const del = renderSql('chunk-delete', s);
  const ins = renderSql('chunk-insert', s);
  return {
    ...base,
    async write(items, finished, claimed, checksum) {
      // Only dequeuing (nothing to write): no chunks change, the plain statement does.
      if (items.length === 0) return base.write(items, finished, claimed, checksum);
      const own = isPool(db) ? await db.connect() : undefined;
      const c = own ?? (db as pg.Client);
      let ok = false;
      try {
        const result = await inTransaction(c, async () => {
          const r = await queueOps(c, s, vectorOid).write(items, finished, claimed, checksum);
          const written = new Set(r.written);
          const rows = items.filter((i) => written.has(i.id));
          if (rows.length > 0) {
            await c.query(del, [rows.map((i) => i.id), checksum]);
            const flat = chunkRows(rows);
            if (flat.ids.length > 0) {
              await c.query(ins, [flat.ids, flat.numbers, flat.texts, encodeVectorArray(flat.vectors, vectorOid), checksum]);
            }
          }
          return r;
        });
        ok = true;
        return result;
      } finally {
        own?.release(!ok);
      }
    },
  };
}

function isPool(db: Queryable): db is pg.Pool {
  return 'totalCount' in db && typeof (db as pg.Pool).connect === 'function';
}

/** The written rows' chunks as parallel arrays; a vector that comes without chunks is refused (its encoder did not chunk). */
function chunkRows(rows: readonly WriteItem[]): { ids: string[]; numbers: number[]; texts: string[]; vectors: Float32Array[] } {
  const out = { ids: [] as string[], numbers: [] as number[], texts: [] as string[], vectors: [] as Float32Array[] };
  for (const r of rows) {
    if (!r.vector) continue;
    const chunks = chunksOf(r.vector);
    if (!chunks) throw new Error(`row ${r.id}: a chunked table's vector came without its chunks (encode it through the chunking encoder)`);
    chunks.forEach((ch, i) => {
      out.ids.push(r.id);
      out.numbers.push(i);
      out.texts.push(ch.text);
      out.vectors.push(ch.vector);
    });
  }
  return out;
}
