// The chaos harness's final check: every row's embedding against a fresh encode of its current document, the
// queue and dead-letter tables empty, and nothing left behind by deleted rows.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Encoder } from '../src/encoder/types.ts';

export interface Verdict {
  readonly checked: number;
  readonly wrong: number;
  readonly problems: readonly string[];
}

const MIN_COSINE = 0.9999;

/** The document as the product defines it: text columns trimmed of whitespace, blank ones skipped, joined by '. '. */
export function documentOf(...columns: readonly (string | null)[]): string {
  return columns.map((c) => c?.trim() ?? '').filter((c) => c !== '').join('. ');
}

const md5uuid = (s: string): string => {
  const h = createHash('md5').update(s, 'utf8').digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export async function verifyRows(db: pg.Pool, encoder: Encoder, deletedIds: ReadonlySet<string>): Promise<Verdict> {
  const problems: string[] = [];
  const examples: string[] = [];
  const checksum = encoder.info.checksum;
  const state = await db.query<{ model_checksum: string }>('SELECT model_checksum FROM embedsync.state');
  if (state.rows[0]?.model_checksum !== checksum) {
    problems.push(`embedsync.state holds ${state.rows[0]?.model_checksum}, the model is ${checksum}`);
  }

  const q = (await db.query<{ queued: number; leased: number; dead: number; logged: number }>(
    `SELECT (SELECT count(*) FROM embedsync.queue)::int AS queued,
            (SELECT count(*) FROM embedsync.queue WHERE lease_owner IS NOT NULL)::int AS leased,
            (SELECT count(*) FROM embedsync.deadletter)::int AS dead,
            (SELECT count(*) FROM embedsync.leads_changes)::int AS logged`)).rows[0]!;
  if (q.queued) problems.push(`${q.queued} queue rows left (${q.leased} with a lease)`);
  if (q.logged) problems.push(`${q.logged} change log entries left`);
  if (q.dead) problems.push(`${q.dead} dead-lettered rows`);

  const del = [...deletedIds];
  const leftovers = (await db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM leads WHERE id = ANY ($1::bigint[]))
          + (SELECT count(*) FROM embedsync.queue WHERE id = ANY ($1::text[]))
          + (SELECT count(*) FROM embedsync.deadletter WHERE id = ANY ($1::text[])) AS n`, [del])).rows[0]!.n;
  if (Number(leftovers)) problems.push(`${leftovers} traces of ${del.length} deleted rows left behind`);
  const orphans = (await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT id FROM embedsync.queue UNION ALL SELECT id FROM embedsync.deadletter) x
     WHERE NOT EXISTS (SELECT 1 FROM leads l WHERE l.id::text = x.id)`)).rows[0]!.n;
  if (Number(orphans)) problems.push(`${orphans} queue/dead-letter rows for ids that no longer exist`);

  let checked = 0;
  let wrong = 0;
  const bad = (id: string, why: string) => {
    wrong += 1;
    if (examples.length < 5) examples.push(`row ${id}: ${why}`);
  };
  let after = '0';
  for (;;) {
    const { rows } = await db.query<{
      id: string; title: string | null; description: string | null; e: string | null; checksum: string | null; hash: string | null;
    }>(
      `SELECT l.id::text AS id, title, description, embedding::text AS e, model_checksum AS checksum, embedding_text_hash::text AS hash
       FROM leads l WHERE l.id > $1::bigint ORDER BY l.id LIMIT 2000`, [after]);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const toEncode: { id: string; doc: string; stored: number[] }[] = [];
    for (const r of rows) {
      checked += 1;
      const doc = documentOf(r.title, r.description);
      if (r.checksum !== checksum) { bad(r.id, `checksum ${r.checksum}, expected ${checksum}`); continue; }
      if (doc === '') {
        if (r.e !== null) bad(r.id, 'blank document but an embedding is stored');
        continue;
      }
      if (r.e === null) { bad(r.id, 'no embedding'); continue; }
      if (r.hash !== md5uuid(doc)) { bad(r.id, 'stored text hash is not the hash of the current document'); continue; }
      toEncode.push({ id: r.id, doc, stored: r.e.slice(1, -1).split(',').map(Number) });
    }
    for (let i = 0; i < toEncode.length; i += 128) {
      const part = toEncode.slice(i, i + 128);
      const { vectors } = await encoder.encode(part.map((x) => x.doc), 'document');
      part.forEach((x, j) => {
        const c = cosine(x.stored, vectors[j]!);
        if (!(c >= MIN_COSINE)) bad(x.id, `cosine ${c.toFixed(6)} to a fresh encode of ${JSON.stringify(x.doc.slice(0, 60))}`);
      });
    }
  }
  if (examples.length) problems.push(`wrong rows, e.g.:\n    ${examples.join('\n    ')}`);
  return { checked, wrong, problems };
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -1;
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; }
  return dot / Math.sqrt(na * nb);
}
