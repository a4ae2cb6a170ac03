// The chaos harness in its short form: 2,000 leads, 5 kill -9s of a random daemon, one Postgres restart and one
// listener drop while a writer changes rows; every row must end up with the right vector. The full run is
// `npm run chaos` (20,000 leads, 20 kills).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

test('chaos (short form): kills, a Postgres restart and a listener drop leave no row wrong', { timeout: 240_000 }, async () => {
  const kills = 5;
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/chaos.ts'], {
    env: {
      ...process.env, CHAOS_ROWS: '2000', CHAOS_KILLS: String(kills), CHAOS_WRITER_SECONDS: '12', CHAOS_WRITER_PAUSE_MS: '60',
      CHAOS_DRAIN_TIMEOUT_SECONDS: '120',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const [code] = await once(child, 'exit');
  const line = stdout.split('\n').find((l) => l.startsWith('chaos:'));
  assert.ok(line, `no summary line; stderr:\n${stderr}`);
  const m = /kills survived (\d+)\/(\d+), restarts survived (\d+)\/2 .*rows checked (\d+), rows wrong (\d+), max drain time after the last fault ([\d.]+) s/.exec(line);
  assert.ok(m, line);
  assert.equal(Number(m[5]), 0, `${line}\n${stderr}`);
  assert.ok(Number(m[4]) >= 1800, `checked every row: ${line}`);
  assert.deepEqual([Number(m[1]), Number(m[2]), Number(m[3])], [kills, kills, 2], line);
  assert.equal(code, 0, `harness reported problems:\n${stderr}`);
});
