// What ships for monitoring: the example scrape config and alerting rules
// (checked, and the alerts unit-tested, by promtool), the Grafana dashboard,
// and docs/metrics.md, all held against the metrics sipwall really exports.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createSipwallMetrics } from '../../src/metrics/sipwall-metrics.js';
import { LoopCounters } from '../../src/queue/verdict-loop.js';

const ROOT = process.cwd();
const SCRAPE = join(ROOT, 'contrib', 'prometheus', 'scrape.yml');
const ALERTS = join(ROOT, 'contrib', 'prometheus', 'alerts.yml');
const ALERT_TESTS = join(ROOT, 'test', 'metrics', 'alerts.promtool.yml');
const DASHBOARD = join(ROOT, 'contrib', 'grafana', 'sipwall-dashboard.json');
const DOC = join(ROOT, 'docs', 'metrics.md');

const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

/** Every series name the registry exports: families, and a histogram's _bucket/_sum/_count. */
async function exported(): Promise<{ families: Map<string, string>; names: Set<string> }> {
  const engine = { rates: { size: 0, evictions: 0 }, bans: { activeCount: () => 0 }, trust: { activeCount: () => 0 }, flows: { size: 0, evicted: 0 } };
  const m = createSipwallMetrics({ counters: new LoopCounters(), engine, readQueueStats: (o) => (o.fill(0), true), kernelQueue: () => null });
  const families = new Map<string, string>();
  for (const [, name, type] of (await m.registry.metrics()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(name!, type!);
  const names = new Set<string>();
  for (const [name, type] of families) {
    names.add(name);
    if (type === 'histogram' || type === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return { families, names };
}

/** Metric names in PromQL text: identifiers followed by `{`, `[`, `)` or an operator, that look like ours or the process's. */
function metricNames(promql: string): string[] {
  return [...promql.matchAll(/\b((?:sipwall|process|nodejs)_[a-z0-9_]+|up)\b/g)].map((m) => m[1]!);
}

t.test('promtool: the scrape config and the alerting rules are valid, and the alerts fire when they should', { skip: hasPromtool ? false : 'promtool not installed (Debian package prometheus)' }, async (t) => {
  const config = spawnSync('promtool', ['check', 'config', SCRAPE], { encoding: 'utf8', timeout: 30_000 });
  t.equal(config.status, 0, `promtool check config: ${config.stdout}${config.stderr}`);
  t.match(config.stdout + config.stderr, /1 rule files found/, 'the config loads alerts.yml');
  const rules = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8', timeout: 30_000 });
  t.equal(rules.status, 0, `promtool check rules: ${rules.stdout}${rules.stderr}`);
  const unit = spawnSync('promtool', ['test', 'rules', ALERT_TESTS], { encoding: 'utf8', timeout: 60_000 });
  t.equal(unit.status, 0, `promtool test rules: ${unit.stdout}${unit.stderr}`);
});

t.test('the alerts cover what the admin must hear about, over metrics that exist', async (t) => {
  const text = readFileSync(ALERTS, 'utf8');
  const { names } = await exported();
  const alerts = [...text.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
  for (const a of ['SipwallDown', 'SipwallBanStorm', 'SipwallKernelQueueDrops', 'SipwallQueueOverflow', 'SipwallQueueNotBound']) {
    t.ok(alerts.includes(a), `alert ${a}`);
  }
  t.match(text, /expr: up\{job="sipwall"\} == 0/);
  t.match(readFileSync(SCRAPE, 'utf8'), /job_name: sipwall$/m, 'the job name the alerts use is the one scrape.yml sets');
  for (const [, expr] of text.matchAll(/expr: (.*)$/gm)) {
    for (const n of metricNames(expr!)) if (n !== 'up') t.ok(names.has(n), `alerts.yml: ${n} is exported`);
  }
  const tests = readFileSync(ALERT_TESTS, 'utf8');
  for (const a of alerts) t.ok(tests.includes(`alertname: ${a}`), `alerts.promtool.yml tests ${a}`);
});

t.test('the Grafana dashboard: valid JSON, panels over metrics that exist', async (t) => {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    uid: string;
    panels: Array<{ id: number; type: string; title: string; gridPos: object; targets?: Array<{ expr: string; refId: string }> }>;
    templating: { list: Array<{ name: string }> };
  };
  const { names } = await exported();
  t.equal(d.uid, 'sipwall');
  const ids = d.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  t.same(d.templating.list.map((v) => v.name), ['DS_PROMETHEUS', 'job', 'instance']);
  const titles = d.panels.map((p) => p.title).join('\n');
  for (const what of [/Drops by reason/, /bans/i, /hot-table/i, /Queue health/, /Overflows and kernel drops/, /Batch decision time/]) t.match(titles, what);
  let exprs = 0;
  for (const p of d.panels) {
    t.ok(p.gridPos, `${p.title}: placed`);
    if (p.type === 'row') continue;
    t.ok(p.targets !== undefined && p.targets.length > 0, `${p.title}: has queries`);
    for (const q of p.targets ?? []) {
      exprs++;
      const used = metricNames(q.expr);
      t.ok(used.length > 0, `${p.title}/${q.refId}: queries a metric`);
      for (const n of used) if (n !== 'up') t.ok(names.has(n), `${p.title}: ${n} is exported`);
    }
  }
  t.ok(exprs >= 20);
});

t.test('docs/metrics.md documents every sipwall metric', async (t) => {
  const doc = readFileSync(DOC, 'utf8');
  const { families } = await exported();
  const ours = [...families.keys()].filter((n) => n.startsWith('sipwall_'));
  t.ok(ours.length >= 30);
  for (const n of ours) t.ok(doc.includes(`\`${n}\``), `docs/metrics.md: \`${n}\``);
  t.match(doc, /contrib\/prometheus\/alerts\.yml/);
  t.match(doc, /metrics\.listen/);
});
