// The daemons' pool when PostgreSQL ends a connection (a restart, an administrator's pg_terminate_backend): the
// process lives on, the statement that was running fails to its caller, and the pool's next statement works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPool } from '../src/db/pool.ts';
import { createTestDatabase } from './helpers/db.ts';

test('a connection ended while checked out of the pool fails its statement, not the process', async () => {
  const db = await createTestDatabase('poolerr');
  const pool = createPool({ databaseUrl: db.url, max: 2 });
  const admin = createPool({ databaseUrl: db.url, max: 1 });
  try {
    // Held between statements, as a look holds one for its drain, then ended from outside during a statement.
    const c = await pool.connect();
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    // The expectation is in place before the backend ends: the statement may fail before pg_terminate_backend returns.
    const failed = assert.rejects(c.query('SELECT pg_sleep(5)'), /terminating connection due to administrator command|Connection terminated/);
    await new Promise((r) => setTimeout(r, 100));
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await failed;
    // The 'error' events that follow the connection's end come after its query failed: give them their turn.
    await new Promise((r) => setTimeout(r, 200));
    c.release();
    // Ended while idle in the caller's hands, between statements.
    const idle = await pool.connect();
    const idlePid = (await idle.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await admin.query('SELECT pg_terminate_backend($1)', [idlePid]);
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(idle.query('SELECT 1'));
    idle.release();
    assert.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1, 'the pool serves a fresh connection');
  } finally {
    await pool.end();
    await admin.end();
    await db.drop();
  }
});
