// `embedsync search "text" [--limit 10] [--min-score 0] [--hybrid] [--json]`: embeds the text with the model's
// query prompt and prints the nearest rows via the table's embedsync.<table>_search, or with --hybrid its
// <table>_hybrid_search (the functions the backend can call), through the same path as POST /search.
import { parseArgs } from 'node:util';
import type { Config } from '../config/index.ts';
import type { Encoder } from '../encoder/types.ts';
import { createPool, type Queryable } from '../db/pool.ts';
import { requireInstalled, requireSourceMigrated } from '../db/installed.ts';
import { searchRows as runSearch } from '../db/search-rows.ts';
import { inspectSource } from '../db/source-info.ts';
import { renderSql } from '../db/sql-template.ts';
import { oneTable, textOperand, UsageError, type Command } from './context.ts';

const SEARCH_USAGE = 'usage: embedsync search "text" | - [--limit 10] [--min-score 0] [--hybrid] [--json]';

export interface SearchHit {
  readonly id: string;
  readonly score: number;
  readonly document: string;
}

export async function searchRows(db: Queryable, config: Config, encoder: Encoder, text: string, limit: number, minScore = 0,
  hybrid = false): Promise<SearchHit[]> {
  await requireInstalled(db, ['state', 'queue']);
  const info = await inspectSource(db, config.source);
  requireSourceMigrated(info);
  const q = (await encoder.encode([text], 'query')).vectors[0]!;
  const hits = await runSearch(db, {
    table: config.source.table, text, vector: q, checksum: encoder.info.checksum, k: limit, hybrid, minScore,
  });
  const docs = await db.query<{ id: string; document: string }>(renderSql('search-documents', info.sql), [hits.map((h) => h.id)]);
  const byId = new Map(docs.rows.map((d) => [d.id, d.document]));
  return hits.map((h) => ({ id: h.id, score: h.score, document: byId.get(h.id) ?? '' }));
}

export const searchCommand: Command = async (ctx) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...ctx.argv], allowPositionals: true,
      options: {
        limit: { type: 'string', default: '10' }, 'min-score': { type: 'string', default: '0' },
        hybrid: { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${SEARCH_USAGE}`);
  }
  // Unquoted words are one query; `-` (or nothing, with stdin piped in) reads it from stdin.
  const text = (parsed.positionals.length > 1 ? parsed.positionals.join(' ')
    : await textOperand(ctx, parsed.positionals, SEARCH_USAGE)).trim();
  const limit = Number(parsed.values.limit);
  const minScore = Number(parsed.values['min-score']);
  if (!text) throw new UsageError(SEARCH_USAGE);
  if (parsed.values.hybrid && parsed.values['min-score'] !== '0') {
    throw new UsageError('--min-score applies to vector search only (hybrid scores are rank fusions)');
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new UsageError(`--limit must be an integer from 1 to 1000, not ${parsed.values.limit}`);
  }
  if (!Number.isFinite(minScore) || minScore < -1 || minScore > 1) {
    throw new UsageError(`--min-score must be a number from -1 to 1, not ${parsed.values['min-score']}`);
  }
  const config = oneTable(ctx.config(), 'search');
  const pool = createPool({ databaseUrl: config.databaseUrl, max: 1, applicationName: 'embedsync-search' });
  let encoder: Encoder | undefined;
  try {
    // The database first: "run migrate first" (or a missing table) before seconds of model loading, or a download.
    await requireInstalled(pool, ['state', 'queue']);
    requireSourceMigrated(await inspectSource(pool, config.source));
    const { createEncoder } = await import('../encoder/index.ts');
    encoder = await createEncoder(config.model, { progress: ctx.stderr, cwd: ctx.cwd, signal: ctx.signal });
    const hits = await searchRows(pool, config, encoder, text, limit, minScore, parsed.values.hybrid);
    if (parsed.values.json) ctx.stdout.write(`${JSON.stringify(hits)}\n`);
    else if (hits.length === 0) ctx.stdout.write('no rows found\n');
    else {
      const w = Math.max(...hits.map((h) => h.id.length));
      ctx.stdout.write(hits.map((h) => `${h.score.toFixed(4)}  ${h.id.padStart(w)}  ${oneLine(h.document, 100)}`).join('\n') + '\n');
    }
    return 0;
  } finally {
    await pool.end();
    await encoder?.close();
  }
};

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}
