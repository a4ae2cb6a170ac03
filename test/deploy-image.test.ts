// The Dockerfile and docker-compose.yml, validated without a Docker engine: Debian's docker-compose resolves
// the compose file, the resolved daemon environment passes embedsync's own config loader, the image is built
// and run with the same commands developers use, and its HEALTHCHECK command really probes /ready.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../src/config/index.ts';
import { COMMANDS } from '../src/cli/commands.ts';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
const NO_COMPOSE = 'docker-compose not installed (scripts/setup.sh installs Debian\'s docker-compose package)';

// ---- Dockerfile --------------------------------------------------------------------------------------------
interface Instruction { readonly op: string; readonly args: string; readonly stage: number }
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of logical) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage += 1;
    out.push({ op, args: m[2]!.replace(/\s+/g, ' '), stage });
  }
  return out;
}
const dockerfile = parseDockerfile(read('Dockerfile'));
const stages = dockerfile.filter((i) => i.op === 'FROM').map((i) => i.args);
const lastStage = stages.length - 1;
const runtime = dockerfile.filter((i) => i.stage === lastStage);
const execForm = (op: string) => JSON.parse(runtime.find((i) => i.op === op)?.args ?? 'null') as string[] | null;
const dockerEnv = Object.fromEntries(runtime.filter((i) => i.op === 'ENV')
  .flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));

test('the image is multi-stage on node:20-bookworm-slim and installs with the README\'s command', () => {
  assert.ok(stages.length >= 2, 'multi-stage');
  assert.match(stages[0]!, /^node:20-bookworm-slim AS deps$/);
  assert.match(stages[lastStage]!, /^node:20-bookworm-slim AS runtime$/);
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  // node:20 images carry the newest 20.x, which meets the minor the locked packages need (test/package-manifest.test.ts).
  assert.match(engines, /^>=20(\.\d+){0,2}$/, 'the image\'s Node major is the oldest the package supports');
  const install = 'ONNXRUNTIME_NODE_INSTALL=skip npm ci';
  const depsRun = dockerfile.filter((i) => i.stage === 0 && i.op === 'RUN').map((i) => i.args);
  assert.ok(depsRun.some((r) => r.startsWith(install)), `deps stage runs ${install}`);
  assert.ok(read('README.md').includes(install), 'README documents the same install command');
  assert.ok(read('scripts/test.sh').includes(install), 'the test script installs the same way');
  assert.ok(dockerfile.some((i) => i.stage === 0 && i.op === 'COPY' && /package-lock\.json/.test(i.args)), 'npm ci gets the lock file');
  assert.ok(runtime.some((i) => i.op === 'COPY' && i.args.startsWith('--from=deps /app/node_modules')),
    'runtime takes node_modules from deps');
  // The image runs the compiled code: a build stage compiles src/ (npm run build), the runtime takes its dist/.
  const build = stages.findIndex((s) => / AS build$/.test(s));
  assert.ok(build > 0 && build < lastStage, 'a build stage');
  assert.ok(dockerfile.some((i) => i.stage === build && i.op === 'RUN' && i.args === 'npm run build'),
    'the build stage runs npm run build');
  assert.ok(runtime.some((i) => i.op === 'COPY' && i.args === '--from=build /app/dist ./dist'), 'runtime takes dist/ from the build stage');
  assert.ok(!runtime.some((i) => i.op === 'COPY' && /^src\b/.test(i.args)), 'the TypeScript sources stay out of the image');
});

test('the container runs the CLI the way the README does, as a non-root user', () => {
  const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
  const entry = execForm('ENTRYPOINT');
  assert.deepEqual(entry, ['node', pkg.bin.embedsync]);
  assert.ok(existsSync(join(root, pkg.bin.embedsync!)));
  assert.deepEqual(execForm('CMD'), ['run']);
  const readme = read('README.md');
  for (const cmd of ['migrate', 'run']) {
    assert.ok(readme.includes(`node ${pkg.bin.embedsync} ${cmd}`), `README shows node ${pkg.bin.embedsync} ${cmd}`);
    assert.ok(cmd in COMMANDS, `${cmd} is a CLI command`);
  }
  const userIdx = runtime.findIndex((i) => i.op === 'USER');
  assert.ok(userIdx >= 0, 'USER is set');
  const user = runtime[userIdx]!.args;
  assert.ok(!['root', '0'].includes(user) && !user.startsWith('0:'), `runs as ${user}`);
  assert.ok(runtime.some((i) => i.op === 'RUN' &&
    new RegExp(`useradd .*--uid (\\d+) .*\\b${user}$`).test(i.args.split('&&').find((p) => p.includes('useradd'))!.trim())),
    `${user} is created with a uid`);
  const lastCopy = runtime.map((i) => i.op).lastIndexOf('COPY');
  assert.ok(lastCopy < userIdx, 'files are copied before dropping privileges (owned by root, read-only to the app)');
  assert.equal(dockerEnv.EMBEDSYNC_CACHE_DIR, '/var/cache/embedsync');
  assert.equal(loadConfig({ EMBEDSYNC_CACHE_DIR: dockerEnv.EMBEDSYNC_CACHE_DIR }).model.cacheDir, '/var/cache/embedsync');
  assert.ok(runtime.some((i) => i.op === 'RUN' && i.args.includes(`chown ${user}:${user} ${dockerEnv.EMBEDSYNC_CACHE_DIR}`)),
    'the model cache is writable by the user');
});

function ignorePatterns(): string[] {
  return read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}
function ignored(path: string, patterns: readonly string[]): boolean {
  const top = path.split('/')[0]!;
  return patterns.some((p) => {
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    return re.test(path) || re.test(top);
  });
}

test('every path the runtime code reads is copied into the image and not excluded by .dockerignore', () => {
  const patterns = ignorePatterns();
  assert.ok(ignored('node_modules', patterns), 'host node_modules never reach the build context');
  const copied = runtime.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(' ').slice(0, -1));
  for (const src of copied) {
    assert.ok(existsSync(join(root, src)), `COPY source ${src} exists`);
    assert.ok(!ignored(src, patterns), `COPY source ${src} is not in .dockerignore`);
  }
  // Files the code locates relative to itself (new URL('../../sql/', import.meta.url)) must be in the image.
  const files = (function walk(dir: string): string[] {
    return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
  })(join(root, 'src')).filter((f) => f.endsWith('.ts'));
  const needed = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/new URL\(\s*'((?:\.\.\/)+[^']*)',\s*import\.meta\.url/g)) {
      const top = relative(root, resolve(join(f, '..'), m[1]!)).split('/')[0]!;
      // The image leaves test/ out: `model make-test` writes the test model from src/, never reading test/.
      assert.notEqual(top, 'test', `${relative(root, f)} reads from test/, which the image leaves out`);
      needed.add(top);
    }
  }
  assert.ok(needed.has('package.json'));
  for (const top of needed) {
    assert.ok(copied.some((c) => c === top || c.startsWith(`${top}/`)), `${top} is read at run time, so it is copied`);
  }
});

test('every package the runtime code imports is a production dependency (the image installs with --omit=dev)', () => {
  const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
  assert.ok(dockerfile.some((i) => i.op === 'RUN' && i.args.includes('npm ci --omit=dev')));
  const files = (function walk(dir: string): string[] {
    return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
  })(join(root, 'src')).filter((f) => f.endsWith('.ts')).concat(join(root, 'bin/embedsync.js'));
  const used = new Map<string, string>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    // Static imports and re-exports (type-only ones are erased), and dynamic import('x') calls.
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^;'"]*?from\s*'([^']+)'|\bawait import\('([^']+)'\)/gms)) {
      if (m[1]) continue;
      const spec = m[2] ?? m[3]!;
      if (spec.startsWith('.') || spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      used.set(name, relative(root, f));
    }
  }
  assert.ok(used.has('fastify') && used.has('@opentelemetry/sdk-trace-base'), 'the scan finds the imports');
  for (const [name, file] of used) {
    assert.ok(name in pkg.dependencies, `${file} imports ${name}, which must be in dependencies, not devDependencies`);
  }
});

test('the HEALTHCHECK command exits 0 only when /ready answers 200', async () => {
  const hc = runtime.find((i) => i.op === 'HEALTHCHECK')!.args;
  const cmd = JSON.parse(hc.slice(hc.indexOf('CMD ') + 4)) as string[];
  assert.equal(cmd[0], 'node', 'slim images have no curl');
  let status = 503;
  const paths: string[] = [];
  const server = createServer((req, res) => { paths.push(req.url ?? ''); res.writeHead(status).end(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const probe = () => new Promise<number | null>((done) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: 'ignore' });
    child.on('exit', (code) => done(code));
  });
  try {
    assert.equal(await probe(), 1, 'not ready → unhealthy');
    status = 200;
    assert.equal(await probe(), 0, 'ready → healthy');
    assert.deepEqual(paths, ['/ready', '/ready']);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  assert.equal(await probe(), 1, 'nothing listening → unhealthy');
  assert.match(hc, /process\.env\.PORT \|\| (\d+)/);
  assert.equal(Number(/process\.env\.PORT \|\| (\d+)/.exec(hc)![1]), loadConfig({}).http.port, 'falls back to the daemon\'s default port');
});

// ---- docker-compose.yml ------------------------------------------------------------------------------------
interface Service {
  image?: string; build?: { context: string; dockerfile: string }; command?: string[]; environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>; healthcheck?: { test: string[] };
  volumes?: (string | { source?: string; target: string; type: string })[];
  ports?: ({ published: number | string; target: number } | string)[];
}
function composeConfig(env: Record<string, string> = {}): { services: Record<string, Service>; volumes?: Record<string, unknown> } {
  const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
    cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  assert.equal(r.status, 0, `docker-compose config failed:\n${r.stderr}`);
  return parseYaml(r.stdout);
}
type Volume = NonNullable<Service['volumes']>[number];
/** docker-compose 1.x prints short "source:target:mode" strings, newer versions objects. */
function volume(v: Volume): { type: 'volume' | 'bind'; source: string; target: string } {
  if (typeof v !== 'string') return { type: v.type === 'bind' ? 'bind' : 'volume', source: v.source ?? '', target: v.target };
  const [source = '', target = ''] = v.split(':');
  return { type: /^[./~]/.test(source) ? 'bind' : 'volume', source, target };
}

test('docker-compose parses the stack: pgvector, migrate before run, Prometheus and Grafana', {
  skip: hasCompose ? false : NO_COMPOSE,
}, () => {
  const { services, volumes } = composeConfig();
  assert.deepEqual(Object.keys(services).sort(), ['embedsync', 'grafana', 'jaeger', 'migrate', 'postgres', 'prometheus']);
  const pgService = services.postgres!;
  // pgvector's image with the compiled UPDATE trigger function built in, and created by an init script.
  assert.equal(pgService.build?.context, root);
  assert.equal(pgService.build?.dockerfile, 'deploy/postgres/Dockerfile');
  const pgImage = parseDockerfile(read('deploy/postgres/Dockerfile'));
  assert.deepEqual(pgImage.filter((i) => i.op === 'FROM').map((i) => i.args), ['pgvector/pgvector:pg17']);
  assert.ok(pgImage.some((i) => i.op === 'COPY' && i.args === 'extension /tmp/embedsync_capture'));
  assert.match(pgImage.find((i) => i.op === 'RUN')!.args,
    /postgresql-server-dev-\$PG_MAJOR && make -C \/tmp\/embedsync_capture install PG_CONFIG=\/usr\/lib\/postgresql\/\$PG_MAJOR\/bin\/pg_config /);
  assert.ok(!/^(extension|\*)$/m.test(read('.dockerignore')), 'extension/ reaches the build context');
  const init = (pgService.volumes ?? []).map(volume).filter((v) => v.target.startsWith('/docker-entrypoint-initdb.d/'));
  assert.deepEqual(init.map((v) => relative(root, v.source)), ['scripts/demo-leads.sql', 'deploy/postgres/20-embedsync-capture.sql']);
  assert.deepEqual(init.map((v) => v.target.split('/').pop()), ['10-demo-leads.sql', '20-embedsync-capture.sql'], 'run in this order');
  assert.match(read('deploy/postgres/20-embedsync-capture.sql'), /^CREATE EXTENSION IF NOT EXISTS embedsync_capture;$/m);
  assert.match(pgService.healthcheck!.test.join(' '), /pg_isready/);
  const migrate = services.migrate!;
  const daemon = services.embedsync!;
  for (const s of [migrate, daemon]) {
    assert.equal(s.build?.context, root);
    assert.equal(s.build?.dockerfile, 'Dockerfile');
  }
  assert.deepEqual(migrate.command, ['migrate']);
  assert.equal(migrate.depends_on?.postgres?.condition, 'service_healthy');
  assert.deepEqual(daemon.command, ['run']);
  assert.equal(daemon.depends_on?.migrate?.condition, 'service_completed_successfully');
  const cache = daemon.volumes?.map(volume).find((v) => v.target === daemon.environment?.EMBEDSYNC_CACHE_DIR);
  assert.equal(cache?.type, 'volume', 'the model cache is a named volume');
  assert.equal(cache?.source, 'model-cache');
  assert.ok(volumes && 'model-cache' in volumes && 'pgdata' in volumes);
  for (const s of Object.values(services)) {
    for (const v of (s.volumes ?? []).map(volume)) {
      if (v.type === 'bind') assert.ok(existsSync(v.source), `bind-mounted ${v.source} exists`);
    }
  }
});

test('the daemon\'s compose environment is valid embedsync configuration', { skip: hasCompose ? false : NO_COMPOSE }, () => {
  const loader = read('src/config/load-config.ts');
  const { services } = composeConfig({ POSTGRES_PASSWORD: 'pw-from-env', EMBEDSYNC_TABLE: 'crm.leads' });
  for (const name of ['migrate', 'embedsync']) {
    const env = services[name]!.environment!;
    for (const key of Object.keys(env)) assert.ok(loader.includes(`'${key}'`), `${name}: ${key} is a setting embedsync reads`);
    const config = loadConfig(env); // throws ConfigError listing every problem
    assert.equal(new URL(config.databaseUrl!).hostname, 'postgres');
    assert.equal(new URL(config.databaseUrl!).password, 'pw-from-env', 'settings come from the environment');
    assert.deepEqual(config.source.table, { schema: 'crm', name: 'leads' });
    assert.equal(config.otelEndpoint, undefined, 'tracing stays off unless OTEL_EXPORTER_OTLP_ENDPOINT is set');
    assert.equal(config.http.apiKey, undefined);
    if (name === 'embedsync') {
      const ports = services[name]!.ports!.map((p) => (typeof p === 'string' ? Number(p.split(':').pop()) : Number(p.target)));
      assert.deepEqual(ports, [config.http.port]);
    }
  }
  const traced = composeConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' });
  assert.equal(loadConfig(traced.services.embedsync!.environment!).otelEndpoint, 'http://jaeger:4318');
});

test('every setting docs/operations.md names is one embedsync, the compose file or OpenTelemetry reads', () => {
  const loader = read('src/config/load-config.ts');
  const compose = read('docker-compose.yml');
  const names = new Set(read('docs/operations.md').match(/\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b/g) ?? []);
  assert.ok(names.size > 10);
  for (const name of names) {
    const known = loader.includes(`'${name}'`) || compose.includes(`\${${name}:`) || name.startsWith('OTEL_') ||
      (name === 'ONNXRUNTIME_NODE_INSTALL' && read('Dockerfile').includes(name));
    assert.ok(known, `${name} is mentioned in docs/operations.md but nothing reads it`);
  }
});
