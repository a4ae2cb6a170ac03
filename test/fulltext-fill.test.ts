// migrate's fill of the tsvector column walks the table in key-ordered chunks. Each chunk's UPDATE must be driven by
// the primary key: with statistics that do not know how many rows lack a tsvector (rows loaded since the last
// ANALYZE), the planner joined a scan of the whole table to every chunk, which made a rerun of migrate quadratic
// (300,000 such rows: the whole migrate took 7.9 s, 4.0 s with the chunk driven by the key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureFullText } from '../src/db/fulltext.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { renderSql } from '../src/db/sql-template.ts';
import { setupSyncDb } from './helpers/sync.ts';

test('a chunk of the tsvector fill updates its rows through the primary key, not a scan of the table', async () => {
  const t = await setupSyncDb();
  try {
    // Rows inserted after migrate filled the column (as a restore, or a load while no daemon ran, leaves them).
    await t.pool.query(`INSERT INTO leads (title, description) SELECT 'Квартира ' || g, 'Описание ' || g FROM generate_series(1, 30000) g`);
    const { sql } = await inspectSource(t.pool, t.config.source);
    const lines = (await t.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${renderSql('fulltext-fill', sql)}`,
      ['5000', 5000, false])).rows.map((r) => r['QUERY PLAN']);
    // The UPDATE's subtree: the lines under "CTE filled", indented deeper than it.
    const at = lines.findIndex((l) => l.trim() === 'CTE filled');
    const depth = (l: string) => l.length - l.trimStart().length;
    const end = lines.findIndex((l, i) => i > at && depth(l) <= depth(lines[at]!));
    const update = lines.slice(at, end < 0 ? undefined : end).join('\n');
    assert.match(update, /Index Cond: \(id = ANY/, lines.join('\n'));
    assert.doesNotMatch(update, /Seq Scan on leads/, lines.join('\n'));

    const c = await t.pool.connect();
    try {
      assert.equal((await ensureFullText(c, sql, t.config.source)).filled, 30000);
    } finally {
      c.release();
    }
  } finally {
    await t.close();
  }
});
