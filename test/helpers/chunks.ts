// Shared by the chunking tests: the chunked table's settings, long documents of numbered sentences, and reads
// of a row's chunks.
import type pg from 'pg';
import type { MigrateTestDb } from './migrate-db.ts';

export const CHUNKED = { EMBEDSYNC_CHUNKING: 'tokens', EMBEDSYNC_CHUNK_OVERLAP: '40' } as const;
const WORDS = ['client', 'delivery', 'contract', 'price', 'office', 'склад', 'доставка', 'клиент', 'договор', 'цена', 'звонок', 'meeting'];

/** A long description: numbered sentences of varied words, `tag` in each (a document version). */
export function longText(sentences: number, tag = ''): string {
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) {
    const w = (k: number) => WORDS[(i * 7 + k * 5) % WORDS.length]!;
    out.push(`${tag}Sentence ${i} says the ${w(1)} wants ${w(2)} and ${w(3)} by ${w(4)} number ${i * 13 % 101}.`);
  }
  return out.join(' ');
}

/** The longest start of `b` that `a` ends with. */
export function overlapOf(a: string, b: string): string {
  for (let k = Math.min(a.length, b.length); k > 0; k--) if (a.endsWith(b.slice(0, k))) return b.slice(0, k);
  return '';
}

export function vec(v: Float32Array | readonly number[]): string {
  return `[${Array.from(v).join(',')}]`;
}

export async function insertLead(t: MigrateTestDb, title: string, description: string): Promise<string> {
  return (await t.pool.query<{ id: string }>('INSERT INTO leads (title, description, city) VALUES ($1, $2, $3) RETURNING id::text',
    [title, description, 'Москва'])).rows[0]!.id;
}

export async function chunksOfRow(db: pg.Pool | pg.Client,
  id: string): Promise<{ chunk: number; chunk_text: string; embedding: string; model_checksum: string }[]> {
  return (await db.query('SELECT chunk, chunk_text, embedding::text, model_checksum FROM embedsync.leads_chunks WHERE id = $1 ' +
    'ORDER BY model_checksum, chunk', [id])).rows;
}
