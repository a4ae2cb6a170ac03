// migrate and doctor check the server against what the schema needs (PostgreSQL 14, pgvector 0.5.0) and say
// which version is needed. The versions are read from the server; the checks are tried on fake ones too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { versionChecks } from '../src/cli/doctor.ts';
import {
  checkServerVersions, compareVersions, readServerVersions, versionProblems, type ServerVersions,
} from '../src/db/server-versions.ts';
import { createTestDatabase } from './helpers/db.ts';

const fine: ServerVersions = { server: '15.4 (Debian 15.4-1)', serverNum: 150004, pgvectorInstalled: '0.8.0', pgvectorAvailable: '0.8.0' };

test('versions: PostgreSQL 13 and an old pgvector are refused, naming the version needed and the fix', () => {
  assert.deepEqual(versionProblems(fine), []);
  const old = versionProblems({ server: '13.11', serverNum: 130011, pgvectorInstalled: '0.4.4', pgvectorAvailable: '0.4.4' });
  assert.deepEqual(old, [
    'PostgreSQL 13.11 is too old: embedsync needs PostgreSQL 14 or later (CREATE OR REPLACE TRIGGER); upgrade the server',
    'pgvector 0.4.4 is too old: embedsync needs pgvector 0.5.0 or later; install a newer pgvector on the database server',
  ]);
  assert.match(versionProblems({ ...fine, pgvectorInstalled: '0.4.1', pgvectorAvailable: '0.7.0' })[0]!,
    /the server has 0\.7\.0: ALTER EXTENSION vector UPDATE/);
  assert.match(versionProblems({ ...fine, pgvectorInstalled: null, pgvectorAvailable: '0.4.0' })[0]!, /pgvector 0\.4\.0 is too old/,
    'what migrate would install is checked too');
  assert.deepEqual(versionProblems({ ...fine, serverNum: 140000, server: '14.0', pgvectorInstalled: null, pgvectorAvailable: null }), [],
    'no pgvector at all is doctor\'s to say');
  assert.ok(compareVersions('0.10.0', '0.5.0') > 0);
  assert.ok(compareVersions('0.5.0', '0.5') === 0);
  assert.ok(compareVersions('0.4.9-beta', '0.5.0') < 0);
});

test('doctor: a server too old fails the database check with the version needed as the fix', () => {
  const [db, vector] = versionChecks({ server: '13.11', serverNum: 130011, pgvectorInstalled: '0.4.4', pgvectorAvailable: '0.4.4' },
    'database app as app');
  assert.deepEqual(db, { ok: false, name: 'database', found: 'PostgreSQL 13.11, database app as app',
    fix: 'PostgreSQL 13.11 is too old: embedsync needs PostgreSQL 14 or later (CREATE OR REPLACE TRIGGER); upgrade the server' });
  assert.equal(vector!.ok, false);
  assert.match(vector!.fix!, /needs pgvector 0\.5\.0 or later/);
  assert.deepEqual(versionChecks(fine, 'x').map((c) => c.ok), [true, true]);
});

test('the real server passes: its versions are read and accepted', async () => {
  const db = await createTestDatabase('versions');
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const v = await readServerVersions(c);
    assert.ok(v.serverNum >= 140000, v.server);
    assert.match(v.pgvectorInstalled ?? '', /^\d+\.\d+/);
    assert.deepEqual(await checkServerVersions(c), v);
  } finally {
    await c.end();
    await db.drop();
  }
});
