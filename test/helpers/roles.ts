// Roles a test makes to act as an application's writer or a daemon with fewer rights than the test's superuser.
import type pg from 'pg';

/** Runs `fn` on a connection of `pool` as `role`; the connection goes back to the pool as itself, whatever happens. */
export async function asRole<T>(pool: pg.Pool, role: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query(`SET ROLE ${role}`);
    return await fn(c);
  } finally {
    await c.query('RESET ROLE').catch(() => undefined);
    c.release();
  }
}

/** Drops a role a test made, with what it owns (best effort: cleanup must not hide the test's own failure). */
export async function dropRole(pool: pg.Pool, role: string): Promise<void> {
  await pool.query(`DROP OWNED BY ${role}`).catch(() => undefined);
  await pool.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
}
