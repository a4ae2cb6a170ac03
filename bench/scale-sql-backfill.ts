// bench:scale --backfill sql: every row's vector written by the database itself, for table sizes whose backfill
// through daemons would take hours on a small machine (10M rows at ~2,700 rows/s). What follows the backfill
// (index build, idle daemons, status, verification) only needs rows that are current for the model, and the
// vectors keep the clustered shape of scale-vectors.ts: a centre out of 1,000 plus two noise vectors from
// pools of 1,009 and 1,013, so no two of the first 1,019 million rows share a vector.
import type pg from 'pg';
import type { SourceSql } from '../src/db/source-sql.ts';

const POOLS = [['bench_centres', 1000, 1], ['bench_noise_a', 1009, 0.25], ['bench_noise_b', 1013, 0.25]] as const;

export async function sqlBackfill(db: pg.Pool, s: SourceSql, dims: number, checksum: string, rows: number,
  log: (line: string) => void): Promise<number> {
  const t = performance.now();
  for (const [name, n, scale] of POOLS) {
    // The correlated WHERE makes the array a fresh draw per row instead of one draw reused.
    await db.query(`DROP TABLE IF EXISTS ${name}`);
    await db.query(`CREATE TABLE ${name} AS SELECT i, (SELECT array_agg((random() - 0.5) * ${scale})
      FROM generate_series(1, ${dims}) WHERE i >= 0)::vector AS v FROM generate_series(0, ${n - 1}) i`);
  }
  // migrate records the tsvector column once it has filled it (embedsync.fulltext); the daemon's write keeps it.
  const hasFulltext = (await db.query('SELECT 1 FROM embedsync.fulltext WHERE source = $1', [s.sourceKey])).rowCount;
  const fulltext = hasFulltext ? `, ${s.fulltext} = to_tsvector(${s.textSearchConfig}, ${s.document('t')})` : '';
  const step = 500_000;
  for (let lo = 1; lo <= rows; lo += step) {
    await db.query(`UPDATE ${s.table} t SET ${s.embedding} = l2_normalize(c.v + a.v + b.v), ${s.checksum} = $1,
        ${s.textHash} = ${s.documentHash('t')}, ${s.embeddedAt} = now()${fulltext}
      FROM bench_centres c, bench_noise_a a, bench_noise_b b
      WHERE t.${s.id} BETWEEN $2 AND $3 AND c.i = t.${s.id} % 1000 AND a.i = t.${s.id} % 1009 AND b.i = t.${s.id} % 1013`,
    [checksum, lo, Math.min(rows, lo + step - 1)]);
  }
  await db.query('DELETE FROM embedsync.queue WHERE source = $1', [s.sourceKey]);
  for (const [name] of POOLS) await db.query(`DROP TABLE ${name}`);
  const secs = (performance.now() - t) / 1000;
  log(`   vectors of ${rows.toLocaleString('en-US')} rows written by one UPDATE per 500,000 rows (no daemon): ${secs.toFixed(0)} s`);
  return rows / secs;
}
