// scripts/setup.sh installs what the command being run needs: the demo gets PostgreSQL, pgvector and redis, and
// only the test command (running the deploy/ checks) adds prometheus and docker-compose. Run against stand-ins for
// dpkg and apt-get that report those two packages missing and record what would be installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

test('setup.sh adds prometheus and docker-compose only with --deploy-tools; npm start does not ask for them, npm test does', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'embedsync-setup-'));
  try {
    const log = join(dir, 'apt.log');
    await writeFile(join(dir, 'dpkg'), '#!/bin/sh\n# dpkg -s PKG: installed, except the deploy tools\n' +
      'case "$2" in prometheus|docker-compose) exit 1 ;; esac\nexec /usr/bin/dpkg "$@"\n');
    await writeFile(join(dir, 'apt-get'), `#!/bin/sh\necho "$@" >> ${log}\n`);
    await chmod(join(dir, 'dpkg'), 0o755);
    await chmod(join(dir, 'apt-get'), 0o755);
    // The real sudo (if any) would not see the stand-ins on PATH: a stand-in for it too, when not root.
    await writeFile(join(dir, 'sudo'), '#!/bin/sh\nexec "$@"\n');
    await chmod(join(dir, 'sudo'), 0o755);
    const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
    const setup = (...args: string[]) => spawnSync('bash', ['scripts/setup.sh', ...args], { cwd: ROOT, env, encoding: 'utf8' });
    const installs = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith('install'));

    const demo = setup();
    assert.equal(demo.status, 0, demo.stderr);
    assert.deepEqual(await installs(), [], 'nothing installed for the demo');
    const tests = setup('--deploy-tools');
    assert.equal(tests.status, 0, tests.stderr);
    assert.deepEqual((await installs()).map((l) => l.split(' ').filter((w) => !w.startsWith('-')).join(' ')),
      ['install prometheus docker-compose']);
    assert.equal(setup('--what').status, 2);

    // Who asks for what: the demo's script never passes the flag; the test script does when deploy/ tests run.
    const start = await readFile(join(ROOT, 'scripts/start.sh'), 'utf8');
    assert.match(start, /^bash scripts\/setup\.sh$/m);
    assert.doesNotMatch(start, /--deploy-tools/);
    assert.match(await readFile(join(ROOT, 'scripts/test.sh'), 'utf8'), /grep -q 'deploy-'; then bash scripts\/setup\.sh --deploy-tools/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
