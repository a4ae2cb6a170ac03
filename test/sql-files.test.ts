// The statements of sql/: every name the code loads has its file and every file is loaded, every file says why it
// is shaped so, and the renderer refuses what it must not splice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadSql, renderCatalogSql, SQL_FILES } from '../src/db/sql-template.ts';

const dir = new URL('../sql/', import.meta.url).pathname;

const srcFiles = (d: string): string[] => readdirSync(d, { withFileTypes: true })
  .flatMap((e) => (e.isDirectory() ? srcFiles(join(d, e.name)) : e.name.endsWith('.ts') ? [join(d, e.name)] : []));

test('SQL_FILES is the folder sql/; every statement the code names has its file, and every file is named', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).map((f) => f.slice(0, -4)).sort();
  assert.deepEqual([...SQL_FILES], files);
  // Names are literals at the call (or a choice of two literals): loadSql('notify'), renderCatalogSql(leaf ? 'a' : 'b', ...).
  const named = new Map<string, string>();
  for (const f of srcFiles(new URL('../src/', import.meta.url).pathname)) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:loadSql|renderSql|renderCatalogSql)\(\s*(?:[\w.]+\s*\?\s*)?'([a-z0-9-]+)'(?:\s*:\s*'([a-z0-9-]+)')?/g)) {
      for (const name of [m[1], m[2]]) if (name) named.set(name, f);
    }
  }
  // A part two statements share is named by the statements that include it ({{include:hybrid-fusion}}).
  for (const name of files) {
    for (const m of readFileSync(join(dir, `${name}.sql`), 'utf8').matchAll(/\{\{include:([a-z0-9-]+)\}\}/g)) named.set(m[1]!, `sql/${name}.sql`);
  }
  assert.ok(named.has('hybrid-fusion'), 'the scan finds the includes');
  assert.ok(named.size > 50, 'the scan finds the calls');
  for (const [name, file] of named) assert.ok(files.includes(name), `${file} loads sql/${name}.sql, which does not exist`);
  assert.deepEqual(files.filter((f) => !named.has(f)), [], 'files of sql/ no code loads');
  assert.throws(() => loadSql('no-such-statement'), /sql\/ has no no-such-statement\.sql/);
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
  assert.match(renderCatalogSql('index-drop', { concurrently: false, relation: 'public."Odd ""name"""' }),
    /DROP INDEX\s+IF EXISTS public\."Odd ""name"""/);
  assert.throws(() => renderCatalogSql('index-drop', { relation: 'items; DROP TABLE items' }), /not a quoted SQL name/);
  assert.throws(() => renderCatalogSql('index-rename', { relation: 'x', index: 'Bad"' }), /unsafe SQL identifier/);
  assert.throws(() => renderCatalogSql('index-count-vectors', { column: 'embedding' }), /needs the source/);
});
