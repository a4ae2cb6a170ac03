// What a claimed batch needs once its documents are read: rows gone from the source, or embedded already for
// this text and model, are only dequeued; blank documents are written as NULL without the encoder; the rest
// are encoded.
import type { ClaimedRow, DocumentRow, WriteItem } from '../queue/queue.ts';

export interface Classified {
  /** Ids to dequeue without writing. */
  readonly finished: string[];
  /** Blank documents: embedding NULL with the current checksum. */
  readonly blanks: WriteItem[];
  readonly toEncode: DocumentRow[];
}

function isBlank(doc: DocumentRow): boolean {
  return doc.document.trim() === '';
}

/** `failedIds`: rows whose reading failed; they are neither finished nor encoded. */
export function classify(claimed: readonly ClaimedRow[], docs: readonly DocumentRow[], failedIds: ReadonlySet<string>): Classified {
  const seen = new Set(docs.map((x) => x.id));
  // Gone from the source (deleted after the claim): nothing to embed, just dequeue.
  const finished = claimed.filter((c) => !seen.has(c.id) && !failedIds.has(c.id)).map((c) => c.id);
  const blanks: WriteItem[] = [];
  const toEncode: DocumentRow[] = [];
  for (const doc of docs) {
    // doc.unsynced: the rule the sweep and the backfill use too (src/db/sql-template.ts), judged in the read.
    if (!doc.unsynced) finished.push(doc.id);
    else if (isBlank(doc)) blanks.push({ id: doc.id, hash: doc.hash, vector: null });
    else toEncode.push(doc);
  }
  return { finished, blanks, toEncode };
}
