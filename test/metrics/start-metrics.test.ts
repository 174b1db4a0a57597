// `sipwall start` serves /metrics: the wiring in start-command.ts, in a
// network namespace with real iptables, a real NFQUEUE and the native addon
// (test/helpers/sip-lab.ts). The endpoint is read from inside the namespace,
// where 127.0.0.1:9467 (the default metrics.listen) belongs to that sipwall
// alone. Needs root (CI runs as root).

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Lines } from '../helpers/kernel-ns.js';
import { samples, SECRET } from '../helpers/engine-fixtures.js';
import { HOST4, PEER_A4, PEER_B4, SipLab, withCallId, type SipwallProc } from '../helpers/sip-lab.js';
import { parseExposition, series } from './batch-feed.js';

const BIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const scanner = samples('friendly-scanner').find((s) => s.name.includes('register'))!.data;
const toSecret = samples('_legit').find((s) => s.name.includes('secret'))!.data;
let ids = 0;
const cid = (tag: string): string => `${tag}-${process.pid}-${ids++}`;

// Runs inside the namespace: one HTTP request, prints "<status>\n<body>".
const FETCH = String.raw`
const [method, url] = process.argv.slice(1);
fetch(url, { method, signal: AbortSignal.timeout(5000) }).then(async (r) => process.stdout.write(r.status + '\n' + await r.text()), (e) => { process.stdout.write('0\n' + e.message); });
`;

function httpIn(lab: SipLab, method: string, url: string): { status: number; body: string } {
  const out = lab.pair.host.exec(['node', '-e', FETCH, method, url]);
  const nl = out.indexOf('\n');
  return { status: Number(out.slice(0, nl)), body: out.slice(nl + 1) };
}

async function stop(p: SipwallProc): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode;
  const done = new Promise<number | null>((r) => p.child.once('exit', (code) => r(code)));
  p.child.kill('SIGTERM');
  return Promise.race([done, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
}

t.test('sipwall start serves /metrics on the default metrics.listen, fed by real traffic', async (t) => {
  const lab = await SipLab.start(t, 'mx1');
  const sw = await lab.sipwall(`secretHosts: [${SECRET}]\ninline: {queueNum: 330}\n`);
  let stopped = false;
  t.teardown(() => (stopped ? undefined : stop(sw)));
  const url = 'http://127.0.0.1:9467/metrics';
  t.equal(sw.events().find((e) => e['event'] === 'start')?.['metrics'], url, 'the start line says where the metrics are');

  const scrape = (): Map<string, number> => {
    const r = httpIn(lab, 'GET', url);
    if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.body}`);
    return parseExposition(r.body);
  };
  let s = scrape();
  t.equal(s.get('sipwall_queue_bound'), 1, 'the kernel lists the queue as bound (read from /proc in the namespace)');
  t.equal(s.get(series('sipwall_packets_total', { verdict: 'drop', reason: 'scanner-ua' })), 0);

  // A phone naming the secret host, twice (new source port, new conntrack
  // flow: the second is answered by the native hot table), then a scanner.
  for (const tag of ['p1', 'p2']) {
    const id = cid(tag);
    await lab.send('udp', PEER_B4, HOST4, [withCallId(toSecret, id)]);
    t.ok(await lab.received(id, 5000), `phone message ${tag} reached the PBX`);
  }
  await lab.send('udp', PEER_A4, HOST4, [withCallId(scanner, cid('scan'))]);
  const key = series('sipwall_packets_total', { verdict: 'drop', reason: 'scanner-ua' });
  t.ok(await lab.until(() => (s = scrape()).get(key) === 1, 5000), 'the scanner drop shows up in /metrics');

  t.equal(s.get(series('sipwall_bans_total', { reason: 'scanner-ua' })), 1);
  t.equal(s.get('sipwall_bans_active'), 1);
  t.equal(s.get(series('sipwall_packets_total', { verdict: 'accept', reason: 'secret-host' })), 1, 'the first phone message went through the engine');
  t.equal(s.get(series('sipwall_native_hot_hits_total', { verdict: 'trust' })), 1, 'the second was answered by the hot table');
  t.equal(s.get('sipwall_trusted_sources'), 1);
  t.equal(s.get(series('sipwall_sip_requests_total', { method: 'REGISTER' })), 2);
  t.equal(s.get('sipwall_queue_packets_total'), 3);
  t.equal(s.get('sipwall_queue_to_engine_packets_total'), 2);
  t.equal(s.get('sipwall_queue_kernel_enqueued_total'), 3, 'the kernel queued three packets');
  t.equal(s.get('sipwall_queue_kernel_dropped_total'), 0);
  t.equal(s.get('sipwall_verdict_batch_size_count'), 2, 'one histogram observation per engine batch');
  t.ok(s.get('sipwall_verdict_batch_duration_seconds_sum')! > 0);
  t.ok(s.get('process_resident_memory_bytes')! > 0, 'process metrics too');

  t.equal(httpIn(lab, 'GET', 'http://127.0.0.1:9467/').status, 404);
  t.equal(httpIn(lab, 'POST', url).status, 405);

  stopped = true;
  t.equal(await stop(sw), 0, 'SIGTERM: sipwall closes the endpoint with the rest and exits');
  t.equal(httpIn(lab, 'GET', url).status, 0, 'nothing listens any more');
});

t.test('a metrics port in use stops sipwall start before any kernel change; metrics.enabled: false starts without one', async (t) => {
  const lab = await SipLab.start(t, 'mx2');
  const squatter = lab.pair.host.spawn(['node', '-e', "require('net').createServer().listen(9467, '127.0.0.1', () => console.log('ready')); process.stdin.resume()"]);
  t.ok(await new Lines(squatter).wait((l) => l === 'ready', 10_000), 'something else holds 127.0.0.1:9467');
  const before4 = lab.pair.host.save(4);
  const before6 = lab.pair.host.save(6);
  const queues = (): string => lab.pair.host.exec(['sh', '-c', 'cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null || true']);

  const cfg = join(lab.dir, 'taken.yaml');
  writeFileSync(cfg, `inline: {queueNum: 331}\nstateFile: ${join(lab.dir, 'bans.json')}\ncontrol: {socket: ${lab.controlSocket}, group: ""}\n`);
  const r = spawnSync('ip', ['netns', 'exec', lab.pair.host.name, 'node', BIN, 'start', '--config', cfg], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 78, `exit 78 (EX_CONFIG): ${r.stderr}`);
  t.match(r.stderr, /^sipwall: metrics\.listen: cannot listen on 127\.0\.0\.1:9467: the address is in use/);
  t.equal(r.stderr.trim().split('\n').length, 1, 'in one line');
  t.match(r.stdout, /"event":"gc-memory-reducer"/, 'node started without --no-memory-reducer: start warns (src/cli/gc-tuning.ts)');
  t.equal(lab.pair.host.save(4), before4, 'no iptables rule installed');
  t.equal(lab.pair.host.save(6), before6, 'no ip6tables rule installed');
  t.same(lab.pair.host.ipsetNames(), [], 'no ipset created');

  const sw = await lab.sipwall('inline: {queueNum: 331}\nmetrics: {enabled: false}\n');
  t.teardown(() => stop(sw));
  t.equal(sw.events().find((e) => e['event'] === 'start')?.['metrics'], null, 'disabled: no endpoint');
  t.match(queues(), /^\s*331\s/m, 'and the queue is bound this time');
  t.equal(await stop(sw), 0);
});
