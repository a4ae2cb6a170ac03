// One transaction on a dedicated connection: committed when fn resolves, rolled back when it throws.
import type pg from 'pg';

export async function inTransaction<T>(client: pg.Client | pg.PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
