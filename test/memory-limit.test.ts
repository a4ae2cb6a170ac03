// The memory limit where embedsync runs (cgroup v2, cgroup v1, the machine) read from fixture file trees laid
// out as /proc and /sys are, and the encoder sessions chosen to fit it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, parseMemorySize, readMemoryLimit } from '../src/config/index.ts';
import { estimatePeakBytes, fitSessions } from '../src/encoder/memory-fit.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/cgroup/${name}/`, import.meta.url));
const GiB = 2 ** 30;
const MiB = 2 ** 20;
const machineBytes = 16 * GiB;

test('memory limit: cgroup v2 memory.max, the lowest along a nested path, "max" and unreadable trees fall back to the machine', () => {
  assert.deepEqual(readMemoryLimit({ machineBytes, root: fixture('v2') }), { bytes: GiB, source: 'cgroup v2' });
  assert.deepEqual(readMemoryLimit({ machineBytes, root: fixture('v2-nested') }), { bytes: 768 * MiB, source: 'cgroup v2' },
    'the pod\'s limit above the container\'s "max"');
  assert.deepEqual(readMemoryLimit({ machineBytes, root: fixture('v2-unlimited') }), { bytes: machineBytes, source: 'machine' });
  assert.deepEqual(readMemoryLimit({ machineBytes, root: fixture('missing') }), { bytes: machineBytes, source: 'machine' });
  assert.deepEqual(readMemoryLimit({ machineBytes: 512 * MiB, root: fixture('v2') }), { bytes: 512 * MiB, source: 'machine' },
    'a limit above the machine\'s memory is no limit');
});

test('memory limit: cgroup v1 memory.limit_in_bytes (a host path the container cannot see falls to its mount root), ' +
  '2^63 is no limit', () => {
  assert.deepEqual(readMemoryLimit({ machineBytes, root: fixture('v1') }), { bytes: 512 * MiB, source: 'cgroup v1' });
  assert.deepEqual(readMemoryLimit({ machineBytes, root: fixture('v1-unlimited') }), { bytes: machineBytes, source: 'machine' });
});

test('EMBEDSYNC_MEMORY_LIMIT overrides the limit found; sizes are MiB/GiB; a bad size is listed', () => {
  assert.deepEqual(parseMemorySize('1GiB'), { ok: true, value: GiB });
  assert.deepEqual(parseMemorySize('900M'), { ok: true, value: 900 * MiB });
  assert.equal(parseMemorySize('lots').ok, false);
  const found = { bytes: 8 * GiB, source: 'cgroup v2' } as const;
  assert.deepEqual(loadConfig({}, { memory: found }).model.memoryLimit, found);
  assert.deepEqual(loadConfig({ EMBEDSYNC_MEMORY_LIMIT: '1GiB' }, { memory: found }).model.memoryLimit,
    { bytes: GiB, source: 'EMBEDSYNC_MEMORY_LIMIT' });
  assert.throws(() => loadConfig({ EMBEDSYNC_MEMORY_LIMIT: '1 bucket' }),
    (e: unknown) => e instanceof ConfigError && /EMBEDSYNC_MEMORY_LIMIT must be a size/.test(e.message));
  assert.deepEqual(loadConfig({}, { cores: 2 }).model.autoSessions, { cores: 2, threadsSet: false });
  assert.equal(loadConfig({ EMBEDDING_SESSIONS: '2' }, { cores: 2 }).model.autoSessions, undefined,
    'EMBEDDING_SESSIONS set: nothing is chosen for it');
});

test('sessions that fit: the default RoSBERTa int8 in 1 GiB runs one session with both cores; a roomy machine keeps two', () => {
  const rosberta = { weights: 512_258_617, tokenizerJson: 2_246_262 }; // bench:realmodel's model folder
  const auto = { cores: 2, threadsSet: false };
  const small = fitSessions({ sessions: 2, threads: 1 }, auto, { bytes: GiB, source: 'cgroup v2' }, rosberta);
  assert.deepEqual({ ...small, estimateBytes: undefined },
    { sessions: 1, threads: 2, estimateBytes: undefined, tight: false, reduced: true });
  assert.ok(small.estimateBytes < 0.8 * GiB);
  const roomy = fitSessions({ sessions: 2, threads: 1 }, auto, { bytes: 16 * GiB, source: 'machine' }, rosberta);
  assert.deepEqual([roomy.sessions, roomy.threads, roomy.reduced], [2, 1, false]);
  // The estimate against the measured peaks (docs/benchmarks.md): 613–643 MB with one session, 1,064–1,088 MB
  // with two; at or a little above them.
  for (const [sessions, measured] of [[1, 643], [2, 1088]] as const) {
    const mb = estimatePeakBytes(sessions, rosberta) / 1e6;
    assert.ok(mb >= measured && mb < measured + 60, `${sessions} sessions: ${mb.toFixed(0)} MB estimated, ${measured} MB measured`);
  }
  const threadsSet = fitSessions({ sessions: 2, threads: 1 }, { cores: 2, threadsSet: true }, { bytes: GiB, source: 'cgroup v2' },
    rosberta);
  assert.deepEqual([threadsSet.sessions, threadsSet.threads], [1, 1], 'EMBEDDING_THREADS set: kept');
  const tooBig = fitSessions({ sessions: 2, threads: 1 }, auto, { bytes: 512 * MiB, source: 'cgroup v1' }, rosberta);
  assert.deepEqual([tooBig.sessions, tooBig.tight], [1, true]);
});
