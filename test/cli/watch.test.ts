// Shadow mode on a real capture of a veth in a namespace: the engine judges
// live traffic, logs what it would drop and ban, and changes nothing.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { samples } from '../helpers/engine-fixtures.js';
import { Lines } from '../helpers/kernel-ns.js';
import { HOST4, PEER_A4, PEER_B4, SipLab, withCallId } from '../helpers/sip-lab.js';
import { runCliIsolated } from '../helpers/netns.js';

const BIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const scanner = samples('friendly-scanner')[0]!.data;
const toSecret = samples('_legit').find((s) => s.name.includes('secret'))!.data;

t.test('sipwall watch reports would-be drops and bans, marked dry-run, and drops nothing', async (t) => {
  const lab = await SipLab.start(t, 'wat');
  const cfg = join(lab.dir, 'watch.yaml');
  writeFileSync(cfg, 'secretHosts: [secret-7f3a.pbx.example.com]\n');
  const child = lab.pair.host.spawn(['node', BIN, 'watch', '--interface', 'vh', '--config', cfg]);
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const lines = new Lines(child);
  t.ok(await lines.wait((l) => l.includes('"event":"watch"'), 20_000), `watch started ${err}`);
  const events = () => lines.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

  const s1 = `w1-${process.pid}`;
  const s2 = `w2-${process.pid}`;
  const p1 = `w3-${process.pid}`;
  await lab.send('udp', PEER_A4, HOST4, [withCallId(scanner, s1)]);
  await lab.send('udp', PEER_A4, HOST4, [withCallId(scanner, s2)]);
  await lab.send('udp', PEER_B4, HOST4, [withCallId(toSecret, p1)]);
  for (const id of [s1, s2, p1]) t.ok(await lab.received(id, 3000), `${id} reached the PBX: shadow mode drops nothing`);
  t.ok(await lab.until(() => events().some((e) => e['event'] === 'ban')), 'a would-be ban is logged');
  t.match(events().find((e) => e['event'] === 'ban'), { dryRun: true, source: PEER_A4, reason: 'scanner-ua', rule: 'friendly-scanner' });
  t.notMatch(lab.pair.host.save(4), /SIPWALL|NFQUEUE/, 'no kernel rule installed');
  t.same(lab.pair.host.ipsetNames(), [], 'no ipset created');

  // The same metrics as inline, served on metrics.listen inside the namespace, marked dry-run.
  const scrape = lab.pair.host.exec(['node', '-e', "fetch('http://127.0.0.1:9467/metrics').then((r) => r.text()).then((x) => process.stdout.write(x))"]);
  t.match(scrape, /sipwall_packets_total\{(?=[^}]*verdict="drop")(?=[^}]*reason="scanner-ua")(?=[^}]*mode="dry-run")[^}]*\} 1\n/, 'would-be drops in the metrics, labelled dry-run');
  t.match(scrape, /sipwall_bans_active\{mode="dry-run"\} 1\n/, 'the would-be ban is counted');

  child.kill('SIGTERM');
  t.ok(await lines.wait((l) => l.includes('"event":"watch-summary"'), 10_000), 'a summary on SIGTERM');
  t.match(events().find((e) => e['event'] === 'watch-summary'), { dryRun: true, packets: 3, wouldDrop: 2, wouldBan: 1, wouldAccept: 1, byReason: { 'scanner-ua': 1, banned: 1, 'secret-host': 1 } });
});

t.test('sipwall watch: usage errors', async (t) => {
  // Bounded, in a network namespace of its own: a broken check must not leave a capture running on this host.
  const run = (...a: string[]) => runCliIsolated(BIN, ['watch', ...a]);
  t.equal(run().status, 64);
  t.match(run().stderr, /--interface is required/);
  t.equal(run('-i', 'bad name!').status, 64);
  t.equal(run('-i', '..', '--defaults').status, 64, '.. is not an interface (/sys/class/net/.. exists)');
  const nodev = run('-i', 'nosuchif0', '--defaults');
  t.equal(nodev.status, 64, `status ${nodev.status} signal ${nodev.signal}`);
  t.match(nodev.stderr, /no interface named nosuchif0/);
  t.equal(run('--help').status, 0);
});
