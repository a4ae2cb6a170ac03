// The manifest tells the truth: every locked package runs on the Node versions `engines` allows (no EBADENGINE),
// npm reads .npmrc without warnings, and every production dependency is imported by the runtime code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  engines: { node: string }; dependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};
// semver is fastify's own dependency: the same reading of ranges npm applies.
const semver = createRequire(join(root, 'node_modules/fastify/package.json'))('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

test('every locked package supports the lowest Node version package.json engines allows, and the one running', () => {
  const lowest = semver.minVersion(pkg.engines.node)!.version;
  const bad: string[] = [];
  for (const [path, p] of Object.entries(lock.packages)) {
    const range = !Array.isArray(p.engines) ? p.engines?.node : undefined;
    if (!range) continue;
    for (const v of [lowest, process.versions.node]) {
      if (!semver.satisfies(v, range)) bad.push(`${path}@${p.version} needs node ${range}, not ${v}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('npm reads the project config without warnings (no unknown keys in .npmrc); dependencies\' install scripts stay off', () => {
  const r = spawnSync('npm', ['config', 'get', 'ignore-scripts'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), 'true', 'install scripts stay off: onnxruntime-node\'s would download CUDA libraries');
  // npm 12 enforces allowScripts (npm 11 only reports it): each dependency with an install script is denied there too.
  const allow = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    allowScripts?: Record<string, boolean>;
  }).allowScripts ?? {};
  const scripted = Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
    .filter(([path, p]) => path && p.hasInstallScript).map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 13));
  assert.ok(scripted.includes('onnxruntime-node'), 'the lock file records install scripts');
  for (const name of scripted) assert.equal(allow[name], false, `${name}'s install script is denied in package.json allowScripts`);
});

test('the package ships the compiled code, the SQL and the migrations, and no tests, benches or sources', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const f of ['bin/embedsync.js', 'dist/main.js', 'dist/encoder/worker/encode-worker.js', 'sql/claim.sql', 'package.json']) {
    assert.ok(files.includes(f), `${f} is in the package (npm run build first)`);
  }
  assert.ok(files.some((f) => f.startsWith('migrations/')));
  const tops = new Set(files.map((f) => f.split('/')[0]));
  for (const left of ['src', 'test', 'bench', 'scripts', 'docs', 'deploy']) assert.ok(!tops.has(left), `${left}/ is not in the package`);
  assert.ok(!files.some((f) => f.endsWith('.tsbuildinfo')));
});

test('every production dependency is imported by the runtime code (src/, bin/, scripts/)', () => {
  const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|js)$/.test(f) ? [p] : [];
  });
  const code = ['src', 'bin', 'scripts'].flatMap((d) => files(join(root, d))).map((f) => readFileSync(f, 'utf8')).join('\n');
  const unused = Object.keys(pkg.dependencies)
    .filter((d) => !new RegExp(`(from |import\\()'${d.replace('/', '\\/')}(/[^']*)?'`).test(code));
  assert.deepEqual(unused, [], 'move bench- or test-only packages to devDependencies, drop the rest');
});
