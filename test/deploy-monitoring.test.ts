// The Grafana dashboard and the Prometheus alert rules only name metrics the daemon really exports (read from
// createMetrics()'s registry, not from a list kept here), use them as their types allow, and parse. promtool
// (Debian's prometheus package, installed by scripts/setup.sh) checks the rules' syntax and runs their unit
// tests in deploy/alerts.test.yml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../src/metrics/index.ts';

const root = new URL('..', import.meta.url).pathname;
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const NO_PROMTOOL = 'promtool not installed (scripts/setup.sh installs Debian\'s prometheus package)';

// ---- what the daemon exports ------------------------------------------------------------------------------
type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';
async function exportedSeries(): Promise<Map<string, MetricType | 'histogram-part'>> {
  const metrics = createMetrics();
  const out = new Map<string, MetricType | 'histogram-part'>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    const type = String(m.type) as MetricType;
    if (type === 'histogram' || type === 'summary') {
      for (const suffix of ['_bucket', '_sum', '_count']) out.set(m.name + suffix, 'histogram-part');
      if (type === 'summary') out.set(m.name, 'summary');
    } else {
      out.set(m.name, type);
    }
  }
  return out;
}
/** Label names each exported series carries (histogram buckets add `le`). */
function exportedLabels(): Map<string, ReadonlySet<string>> {
  const out = new Map<string, ReadonlySet<string>>();
  for (const m of createMetrics().registry.getMetricsAsArray() as unknown as { name: string; labelNames?: string[]; type?: string }[]) {
    const labels = m.labelNames ?? [];
    for (const name of [m.name, `${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`]) {
      out.set(name, new Set(name.endsWith('_bucket') ? [...labels, 'le'] : labels));
    }
  }
  return out;
}
// Labels Prometheus attaches to every scraped series.
const TARGET_LABELS = ['instance', 'job'] as const;

/** Labels an expression (and its legend / annotation templates) refers to that none of its metrics carry. */
function unknownLabels(expr: string, templates: string, labels: Map<string, ReadonlySet<string>>): string[] {
  const allowed = new Set<string>(TARGET_LABELS);
  for (const n of metricNames(expr)) for (const l of labels.get(n) ?? []) allowed.add(l);
  const stripped = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const used = new Set<string>();
  for (const m of stripped.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of m[1]!.split(',')) if (l.trim()) used.add(l.trim());
  }
  for (const m of stripped.matchAll(/\{([^}]*)\}/g)) for (const mm of m[1]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) used.add(mm[1]!);
  for (const m of templates.matchAll(/\{\{\s*(\w+)\s*\}\}|\$labels\.(\w+)/g)) used.add(m[1] ?? m[2]!);
  return [...used].filter((l) => !allowed.has(l)).map((l) => `label ${l} is on none of ${metricNames(expr).join(', ')} (in ${expr})`);
}

// Series Prometheus itself attaches to every scrape target; alerts may use them, dashboards do not need to.
const SCRAPE_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

// ---- a small PromQL reader: enough to pull metric names and call arguments out of an expression ----------
const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan',
]);

function normalise(expr: string): string {
  return expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // string literals
    .replace(/\$\{[^}]*\}|\$\w+/g, '1m') // Grafana variables ($__rate_interval, ${var})
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
}

function metricNames(expr: string): string[] {
  const s = normalise(expr);
  const names: string[] = [];
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = s[m.index - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue; // 5m, 1e3
    if (s.slice(m.index + m[0].length).trimStart().startsWith('(')) continue; // function or aggregation
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

/** Argument text of every call to fn in expr (balanced parentheses). */
function callArgs(expr: string, fn: string): string[] {
  const s = normalise(expr);
  const out: string[] = [];
  for (const m of s.matchAll(new RegExp(`\\b${fn}\\s*\\(`, 'g'))) {
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    for (; i < s.length && depth > 0; i++) depth += s[i] === '(' ? 1 : s[i] === ')' ? -1 : 0;
    out.push(s.slice(start, i - 1));
  }
  return out;
}

function checkUsage(expr: string, series: Map<string, string>, extra: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = [];
  const names = metricNames(expr);
  if (names.length === 0) problems.push(`names no metric: ${expr}`);
  for (const n of names) if (!series.has(n) && !extra.has(n)) problems.push(`${n} is not exported by the daemon (in ${expr})`);
  for (const fn of ['rate', 'irate', 'increase']) {
    for (const arg of callArgs(expr, fn)) {
      for (const n of metricNames(arg)) {
        const t = series.get(n);
        if (t !== undefined && t !== 'counter' && t !== 'histogram-part') problems.push(`${fn}() over ${n}, a ${t}`);
      }
    }
  }
  for (const arg of callArgs(expr, 'histogram_quantile')) {
    for (const n of metricNames(arg)) if (!n.endsWith('_bucket')) problems.push(`histogram_quantile over ${n}, not a _bucket series`);
  }
  return problems;
}

test('the PromQL reader finds metric names and skips functions, labels, ranges and variables', () => {
  assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le, source) ' +
    '(rate(embedsync_encode_seconds_bucket{source="sync"}[$__rate_interval])))'),
    ['embedsync_encode_seconds_bucket']);
  assert.deepEqual(metricNames('sum(rate(a_total[5m] offset 1h)) by (instance) / on(instance) group_left(reason) b > 0.5'),
    ['a_total', 'b']);
  assert.deepEqual(metricNames('up{job="embedsync"} == 0'), ['up']);
  assert.deepEqual(metricNames('max(x_seconds) > 300 and min by (instance) (y) == 0'), ['x_seconds', 'y']);
  const series = new Map<string, string>([['c_total', 'counter'], ['g', 'gauge'], ['h_bucket', 'histogram-part']]);
  assert.deepEqual(checkUsage('rate(c_total[5m]) + g', series), []);
  assert.match(checkUsage('rate(g[5m])', series).join(), /rate\(\) over g, a gauge/);
  assert.match(checkUsage('histogram_quantile(0.9, rate(c_total[5m]))', series).join(), /not a _bucket/);
  assert.match(checkUsage('sum(embedsync_typo)', series).join(), /embedsync_typo is not exported/);
});

// ---- dashboard ----------------------------------------------------------------------------------------------
interface Panel {
  type: string; title: string; datasource?: { uid?: string };
  targets?: { expr: string; legendFormat?: string; datasource?: { uid?: string } }[]; panels?: Panel[];
}
const dashboard = JSON.parse(read('deploy/grafana/dashboards/embedsync.json')) as { uid: string; panels: Panel[] };
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
const dashboardExprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

test('every dashboard query names only metrics the daemon exports, used as their type allows', async () => {
  const series = await exportedSeries();
  assert.ok(dashboardExprs.length >= 20, `dashboard has ${dashboardExprs.length} queries`);
  const problems = dashboardExprs.flatMap(({ panel, expr }) => checkUsage(expr, series).map((p) => `${panel}: ${p}`));
  assert.deepEqual(problems, []);
});

test('dashboard queries and legends group by labels the metrics really have', () => {
  const labels = exportedLabels();
  const problems = panels.flatMap((p) => (p.targets ?? [])
    .flatMap((t) => unknownLabels(t.expr, t.legendFormat ?? '', labels).map((x) => `${p.title}: ${x}`)));
  assert.deepEqual(problems, []);
  assert.match(unknownLabels('sum by (endpoint) (rate(embedsync_rows_embedded_total[5m]))', '', labels).join(),
    /label endpoint is on none/);
  assert.deepEqual(unknownLabels('sum by (le, source) (rate(embedsync_encode_seconds_bucket{source="sync"}[5m]))',
    '{{source}} {{instance}}', labels), []);
});

test('the dashboard shows what operators asked for', () => {
  const required: readonly (readonly [RegExp, string])[] = [
    [/queue depth/i, 'embedsync_queue_depth'],
    [/oldest queued/i, 'embedsync_oldest_queued_seconds'],
    [/lag/i, 'embedsync_change_to_embedding_seconds_bucket'],
    [/rows embedded/i, 'embedsync_rows_embedded_total'],
    [/encode latency/i, 'embedsync_encode_seconds_bucket'],
    [/cache hit rate/i, 'embedding_cache_hits_total'],
    [/dead.letter/i, 'embedsync_deadletter_rows'],
    [/model loaded/i, 'embedding_model_loaded'],
    [/request rate/i, 'embedding_requests_total'],
    [/request latency/i, 'embedding_request_latency_seconds_bucket'],
  ];
  for (const [title, metric] of required) {
    const matching = panels.filter((p) => title.test(p.title));
    assert.ok(matching.length > 0, `no panel titled ${title}`);
    assert.ok(matching.some((p) => (p.targets ?? []).some((t) => metricNames(t.expr).includes(metric))),
      `panel ${title} does not query ${metric}`);
  }
  const lag = panels.find((p) => /lag/i.test(p.title))!;
  const quantiles = lag.targets!.map((t) => /histogram_quantile\(\s*([\d.]+)/.exec(t.expr)?.[1]);
  assert.deepEqual(quantiles, ['0.5', '0.95', '0.99']);
});

test('dashboard panels use the provisioned datasource and the provider loads the dashboard folder', () => {
  const ds = parseYaml(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { uid: string; url: string }[] };
  const uid = ds.datasources[0]!.uid;
  assert.equal(new URL(ds.datasources[0]!.url).host, 'prometheus:9090');
  for (const p of panels) {
    assert.equal(p.datasource?.uid, uid, `panel ${p.title}`);
    for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, uid, `panel ${p.title}`);
  }
  const providers = parseYaml(read('deploy/grafana/provisioning/dashboards/embedsync.yml')) as {
    providers: { options: { path: string } }[];
  };
  const compose = parseYaml(read('docker-compose.yml')) as { services: Record<string, { volumes?: string[] }> };
  const mounts = compose.services.grafana!.volumes ?? [];
  assert.ok(mounts.includes(`./deploy/grafana/dashboards:${providers.providers[0]!.options.path}:ro`),
    'compose mounts the dashboards where the provider looks');
  assert.ok(mounts.includes('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro'));
  const ids = panels.map((p) => (p as unknown as { id: number }).id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  // Grafana's grid is 24 columns wide; overlapping panels get pushed around and the layout falls apart.
  type Box = { x: number; y: number; w: number; h: number };
  const boxes = dashboard.panels.map((p) => ({ title: p.title, ...(p as unknown as { gridPos: Box }).gridPos }));
  for (const a of boxes) assert.ok(a.x >= 0 && a.w > 0 && a.x + a.w <= 24, `${a.title} fits the grid`);
  for (const [i, a] of boxes.entries()) {
    for (const b of boxes.slice(i + 1)) {
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      assert.ok(!overlap, `${a.title} and ${b.title} overlap`);
    }
  }
});

test('promtool parses every dashboard query', { skip: promtool ? false : NO_PROMTOOL }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'embedsync-dash-'));
  try {
    const rules = dashboardExprs.map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr: expr.replace(/\$\{[^}]*\}|\$\w+/g, '1m') }));
    writeFileSync(join(dir, 'rules.json'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.json')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- alerts ---------------------------------------------------------------------------------------------------
interface Rule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const alertRules = (parseYaml(read('deploy/alerts.yml')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

test('alert rules cover model not loaded, queue age over 5 minutes, dead letters and rising encode failures', () => {
  const byMetric = (metric: string) => alertRules.filter((r) => metricNames(r.expr).includes(metric));
  assert.ok(byMetric('embedding_model_loaded').some((r) => /==\s*0\b/.test(r.expr)), 'model-not-loaded alert');
  assert.ok(byMetric('embedsync_oldest_queued_seconds').some((r) => /> *300\b/.test(r.expr)), 'queue-age > 5 min alert');
  assert.ok(byMetric('embedsync_deadletter_rows').some((r) => /> *0\b/.test(r.expr)), 'dead-letter alert');
  assert.ok(byMetric('embedding_encode_failures_total').some((r) => /\b(rate|increase|irate)\s*\(/.test(r.expr)),
    'encode-failure alert over the counter\'s rate');
});

test('every alert names exported metrics, waits a for: duration and says what to do', async () => {
  const series = await exportedSeries();
  const docs = read('docs/operations.md');
  const anchors = new Set([...docs.matchAll(/^#+\s+(.+)$/gm)]
    .map((m) => m[1]!.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-')));
  assert.ok(alertRules.length >= 4);
  const labels = exportedLabels();
  for (const r of alertRules) {
    assert.deepEqual(checkUsage(r.expr, series, SCRAPE_SERIES), [], r.alert);
    assert.deepEqual(unknownLabels(r.expr, Object.values(r.annotations ?? {}).join(' '), labels), [], r.alert);
    assert.match(r.for ?? '', /^\d+[smh]$/, `${r.alert} has a for: duration`);
    assert.ok(['page', 'warning'].includes(r.labels?.severity ?? ''), `${r.alert} severity`);
    assert.ok((r.annotations?.summary ?? '').length > 10 && (r.annotations?.description ?? '').length > 40, `${r.alert} annotations`);
    const anchor = /^docs\/operations\.md#(.+)$/.exec(r.annotations?.runbook ?? '')?.[1];
    assert.ok(anchor && anchors.has(anchor), `${r.alert} runbook ${r.annotations?.runbook} is a heading in docs/operations.md`);
  }
});

test('promtool accepts the rules and the Prometheus config, and the alert unit tests pass', {
  skip: promtool ? false : NO_PROMTOOL,
}, () => {
  for (const args of [
    ['check', 'rules', 'deploy/alerts.yml'], ['check', 'config', 'deploy/prometheus.yml'], ['test', 'rules', 'deploy/alerts.test.yml'],
  ]) {
    const r = spawnSync('promtool', args, { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool ${args.join(' ')}\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout + r.stderr, /SUCCESS/);
  }
  const tested = new Set([...read('deploy/alerts.test.yml').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
  for (const required of ['EmbeddingModelNotLoaded', 'EmbedsyncQueueStale', 'EmbedsyncDeadLetters', 'EmbeddingEncodeFailuresRising']) {
    assert.ok(tested.has(required), `alerts.test.yml exercises ${required}`);
  }
});

test('Prometheus scrapes the daemon where compose runs it', () => {
  const prom = parseYaml(read('deploy/prometheus.yml')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; metrics_path: string; dns_sd_configs: { names: string[]; type: string; port: number }[] }[];
  };
  assert.deepEqual(prom.rule_files, ['alerts.yml']);
  const job = prom.scrape_configs[0]!;
  assert.equal(job.metrics_path, '/metrics');
  assert.ok(read('deploy/alerts.yml').includes(`up{job="${job.job_name}"}`), 'the down alert watches this job');
  const compose = parseYaml(read('docker-compose.yml')) as { services: Record<string, { volumes?: string[]; ports?: string[] }> };
  // Service discovery through Docker's DNS, so every replica of the service is scraped.
  const sd = job.dns_sd_configs[0]!;
  assert.equal(sd.type, 'A');
  const [host, port] = [sd.names[0]!, String(sd.port)];
  assert.ok(compose.services[host], `scrape target ${host} is a compose service`);
  assert.ok((compose.services[host].ports ?? []).some((p) => p.endsWith(`:${port}`)), `the daemon listens on ${port}`);
  const promMounts = compose.services.prometheus!.volumes ?? [];
  assert.ok(promMounts.includes('./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
  assert.ok(promMounts.includes('./deploy/alerts.yml:/etc/prometheus/alerts.yml:ro'),
    'alerts.yml sits next to prometheus.yml in the container');
});
