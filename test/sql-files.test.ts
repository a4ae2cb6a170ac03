// The statements of sql/: the list in src/db/sql-template.ts and the folder agree, every file says why it is
// shaped so, and the renderer refuses what it must not splice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadSql, renderCatalogSql, SQL_FILES } from '../src/db/sql-template.ts';

const dir = new URL('../sql/', import.meta.url).pathname;

test('SQL_FILES lists exactly the files of sql/, once each', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).map((f) => f.slice(0, -4)).sort();
  assert.deepEqual([...SQL_FILES].sort(), files);
  assert.equal(new Set(SQL_FILES).size, SQL_FILES.length);
});

test('every sql/ file opens with a comment', () => {
  for (const name of SQL_FILES) {
    assert.match(readFileSync(join(dir, `${name}.sql`), 'utf8'), /^-- \S/, `sql/${name}.sql`);
  }
});

test('loadSql gives a statement without placeholders and refuses a template', () => {
  assert.match(loadSql('notify'), /pg_notify\('embedsync', \$1\)/);
  assert.throws(() => loadSql('index-create'), /renderSql/);
});

test('catalog statements quote index names and take only well-formed catalog names', () => {
  const create = renderCatalogSql('index-create', {
    index: 'items_embedding_idx', relation: '"public"."items"', column: 'embedding', vectorIndex: { method: 'ivfflat', lists: 12.7 },
  });
  assert.match(create, /CREATE INDEX CONCURRENTLY "items_embedding_idx" ON "public"."items" USING ivfflat \("embedding" vector_cosine_ops\) WITH \(lists = 12\)/);
  assert.match(renderCatalogSql('index-drop', { concurrently: false, relation: 'public."Odd ""name"""' }), /DROP INDEX\s+IF EXISTS public\."Odd ""name"""/);
  assert.throws(() => renderCatalogSql('index-drop', { relation: 'items; DROP TABLE items' }), /not a quoted SQL name/);
  assert.throws(() => renderCatalogSql('index-rename', { relation: 'x', index: 'Bad"' }), /unsafe SQL identifier/);
  assert.throws(() => renderCatalogSql('index-count-vectors', { column: 'embedding' }), /needs the source/);
});
