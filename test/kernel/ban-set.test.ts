// BanSet against a real kernel: bans land in the ipsets while the child
// keeps running, drop the banned source's SIP traffic and expire.
import t from 'tap';
import { createSocket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { KernelError } from '../../src/errors.js';
import { BanSet, cidrFamily, needsRenewal, RENEW_EVERY_MS, timeoutSeconds } from '../../src/kernel/ban-set.js';
import { installRules } from '../../src/kernel/install-rules.js';
import { CONTROL_PORT, createNs, createPair, HOST4, HOST6, PEER_A4, PEER_A6, PEER_B4, PEER_B6, pollUntil, UdpProbe, type Ns, type Teardown } from '../helpers/kernel-ns.js';

if (process.getuid?.() !== 0) {
  t.plan(0, 'needs root for network namespaces');
  process.exit(0);
}

const OPTS = { queueNum: 230 };

function entries(ns: Ns, set: string): string[] {
  return ns.exec(['ipset', 'list', set, '-output', 'save']).split('\n').filter((l) => l.startsWith('add '));
}

function open(t: Teardown, ns: Ns, extra: ConstructorParameters<typeof BanSet>[0] = {}): { bans: BanSet; errors: KernelError[] } {
  const errors: KernelError[] = [];
  const bans = new BanSet({ runner: ns.runner, onError: (e) => errors.push(e), ...extra });
  t.teardown(() => bans.close());
  return { bans, errors };
}

t.test('pure helpers', async (t) => {
  t.equal(cidrFamily('192.0.2.1'), 4);
  t.equal(cidrFamily('192.0.2.0/24'), 4);
  t.equal(cidrFamily('2001:db8:1:2::/64'), 6);
  t.equal(cidrFamily('2001:db8::1'), 6);
  for (const bad of ['example.com', '192.0.2.1/0', '192.0.2.1/33', '2001:db8::/129', '192.0.2.1 ', '192.0.2.1\nflush', 'fe80::1%vh', '', '1.2.3']) {
    t.equal(cidrFamily(bad), 0, JSON.stringify(bad));
  }
  t.equal(timeoutSeconds(1000, 0), 1);
  t.equal(timeoutSeconds(1001, 0), 2, 'rounded up: never lifted early');
  t.equal(timeoutSeconds(-5000, 0), 1, 'at least 1');
  t.equal(timeoutSeconds(1e12, 0), 2147483, 'ipset maximum');
});

t.test('bans longer than the kernel holds an entry are renewed so the entry never lapses before the ban ends', async (t) => {
  // The kernel's side, modelled: an entry added at `at` with the capped timeout ends at at + timeout.
  const DAY = 86_400;
  for (const days of [1, 7, 24, 25, 30, 60, 365]) {
    const end = days * DAY;
    let entryEnd = timeoutSeconds(end * 1000, 0); // the ban itself, at 0
    let lapsed = -1;
    for (let now = DAY; now < end; now += RENEW_EVERY_MS / 1000) {
      if (entryEnd < now && lapsed < 0) lapsed = entryEnd;
      const left = end - now;
      if (needsRenewal(left)) entryEnd = now + timeoutSeconds(left * 1000, 0);
    }
    if (entryEnd < end && lapsed < 0) lapsed = entryEnd;
    t.equal(lapsed, -1, `a ban of ${days} days: held in the kernel to its end`);
  }
  t.notOk(needsRenewal(7 * DAY), 'the default maximum (7 days) needs no renewal');
});

t.test('a ban is applied at once and drops the source on the SIP ports only', async (t) => {
  const pair = createPair(t, 'ban');
  await installRules(OPTS, pair.host.runner);
  const probe = await UdpProbe.start(pair);
  t.ok(await probe.delivered(PEER_A4, HOST4, 5060, PEER_B4), 'before the ban: delivered (queue bypass, nobody bound)');

  const { bans, errors } = open(t, pair.host);
  const t0 = performance.now();
  t.equal(bans.add(PEER_A4, 600), true);
  t.equal(await bans.flushed(5000), true, 'acknowledged by ipset while the child keeps running');
  // The kernel had it when ipset printed its next prompt. A buffered writer
  // (ipset restore aggregates until EOF) would fail this by seconds, not ms.
  t.ok(performance.now() - t0 < 50, `applied within 50 ms of add() (took ${(performance.now() - t0).toFixed(1)} ms)`);
  t.ok(await pollUntil(() => entries(pair.host, 'sipwall-ban4').length === 1, 20, 10), 'in ipset list');
  t.match(entries(pair.host, 'sipwall-ban4')[0], /^add sipwall-ban4 10\.77\.0\.2 timeout (59\d|600)$/);
  const listed = await bans.list();
  t.equal(listed.length, 1);
  t.equal(listed[0]?.cidr, PEER_A4);
  t.ok((listed[0]?.secondsLeft ?? 0) >= 590 && (listed[0]?.secondsLeft ?? 0) <= 600, 'secondsLeft from the kernel');

  const drops = pair.host.ruleCount(4, 'raw', ['-A SIPWALL-BAN -p udp', 'sipwall-ban4']);
  t.equal(await probe.delivered(PEER_A4, HOST4, 5060, PEER_B4), false, 'banned source: dropped');
  t.ok(pair.host.ruleCount(4, 'raw', ['-A SIPWALL-BAN -p udp', 'sipwall-ban4']) > drops, 'by the raw ban rule');
  t.equal(await probe.delivered(PEER_B4, HOST4, 5060, PEER_B4), true, 'another source: delivered');
  t.equal(await probe.delivered(PEER_A4, HOST4, CONTROL_PORT, PEER_B4), true, 'banned source, non-SIP port: delivered (banScope sip-ports)');
  t.same(errors, []);
  t.match(bans.stats, { applied: 1, failed: 0, dropped: 0, respawns: 0, queued: 0, inFlight: 0 });
});

t.test('IPv6: exact address and /64', async (t) => {
  const pair = createPair(t, 'ban6');
  await installRules(OPTS, pair.host.runner);
  const probe = await UdpProbe.start(pair);
  const { bans, errors } = open(t, pair.host);
  t.ok(bans.add(PEER_A6, 300));
  t.ok(bans.add('2001:db8:1:2::/64', 300));
  t.ok(await bans.flushed(5000));
  const lines = entries(pair.host, 'sipwall-ban6');
  t.ok(lines.some((l) => /^add sipwall-ban6 fd77::2 timeout \d+$/.test(l)), 'exact address');
  t.ok(lines.some((l) => /^add sipwall-ban6 2001:db8:1:2::\/64 timeout \d+$/.test(l)), '/64 as given');
  t.equal(await probe.delivered(PEER_A6, HOST6, 5060, PEER_B6), false, 'banned v6 source dropped');
  t.equal(await probe.delivered(PEER_B6, HOST6, 5060, PEER_B6), true, 'other v6 source delivered');
  t.same(errors, []);
});

t.test('expiry lets packets through again; remove() lifts a ban', async (t) => {
  const pair = createPair(t, 'expiry');
  await installRules(OPTS, pair.host.runner);
  const probe = await UdpProbe.start(pair);
  const { bans } = open(t, pair.host);
  // Three seconds: long enough that the probe surely runs inside the ban on a loaded machine.
  bans.add(PEER_A4, 3);
  bans.add(PEER_B6, 600);
  t.ok(await bans.flushed(5000));
  t.equal(await probe.delivered(PEER_A4, HOST4, 5060, PEER_B4), false, 'dropped during the ban');
  t.ok(await pollUntil(() => entries(pair.host, 'sipwall-ban4').length === 0, 60, 100), 'the kernel expired the entry');
  t.equal(await probe.delivered(PEER_A4, HOST4, 5060, PEER_B4), true, 'delivered after expiry');

  t.equal(await probe.delivered(PEER_B6, HOST6, 5060, PEER_A6), false, 'v6 ban in force');
  t.ok(bans.remove(PEER_B6));
  t.ok(await bans.flushed(5000));
  t.same(entries(pair.host, 'sipwall-ban6'), []);
  t.equal(await probe.delivered(PEER_B6, HOST6, 5060, PEER_A6), true, 'delivered after remove()');
});

t.test('refused bans return false, are reported, and reach nothing', async (t) => {
  const ns = createNs(t, 'refuse');
  await installRules(OPTS, ns.runner);
  const { bans, errors } = open(t, ns, { ipv6: false });
  for (const bad of ['example.com', '192.0.2.1/0', '192.0.2.1/33', '192.0.2.1 timeout 1\nflush sipwall-ban4', '2001:db8::1']) {
    t.equal(bans.add(bad, 10), false, JSON.stringify(bad));
  }
  t.equal(bans.add('192.0.2.1', 0), false, 'zero seconds');
  t.equal(bans.add('192.0.2.1', Number.NaN), false, 'NaN seconds');
  t.equal(bans.add(42 as unknown as string, 10), false, 'not a string');
  t.equal(errors.length, 8);
  t.ok(errors.every((e) => e.code === 'SIPWALL_ERR_KERNEL'));
  t.match(bans.stats, { failed: 8, applied: 0 });
  t.ok(await bans.flushed(1000));
  t.same(entries(ns, 'sipwall-ban4'), []);
});

t.test('ipset errors are reported per line without killing the child', async (t) => {
  const ns = createNs(t, 'full');
  await installRules({ ...OPTS, setMaxElem: 2 }, ns.runner);
  const { bans, errors } = open(t, ns);
  const pid = bans.pid;
  for (const a of ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']) t.ok(bans.add(a, 60));
  t.ok(await bans.flushed(5000));
  t.match(bans.stats, { applied: 2, failed: 2, respawns: 0 });
  t.equal(errors.length, 2);
  t.match(errors[0]?.message, /192\.0\.2\.3/, 'the error names the refused ban');
  t.equal(bans.pid, pid, 'same child');
  t.equal(entries(ns, 'sipwall-ban4').length, 2);
  t.ok(bans.remove('192.0.2.1'));
  t.ok(bans.add('192.0.2.3', 60), 'room again');
  t.ok(await bans.flushed(5000));
  t.match(bans.stats, { applied: 4, failed: 2 });
});

t.test('a dead child is restarted and pending bans replayed', async (t) => {
  const ns = createNs(t, 'respawn');
  await installRules(OPTS, ns.runner);
  const { bans, errors } = open(t, ns, { backoffMinMs: 50 });
  t.ok(bans.add('192.0.2.10', 60));
  t.ok(await bans.flushed(5000));
  const pid = bans.pid as number;
  process.kill(pid, 'SIGKILL');
  // Queued while the child is dying or dead: must arrive after the restart.
  t.ok(bans.add('192.0.2.11', 60));
  t.ok(bans.add('2001:db8::11', 60));
  t.ok(await bans.flushed(10_000), 'everything acknowledged by the new child');
  t.not(bans.pid, pid);
  t.ok(bans.stats.respawns >= 1);
  t.ok(errors.some((e) => /ipset child ended/.test(e.message)), 'the death was reported');
  const cidrs = (await bans.list()).map((e) => e.cidr).sort();
  t.same(cidrs, ['192.0.2.10', '192.0.2.11', '2001:db8::11']);
});

t.test('bounded queue; latest op per address wins', async (t) => {
  const ns = createNs(t, 'queue');
  await installRules(OPTS, ns.runner);
  const { bans, errors } = open(t, ns, { maxQueue: 2, maxInFlight: 1 });
  // Synchronous calls: the first goes to the child, two wait, the rest overflow.
  t.ok(bans.add('192.0.2.1', 60));
  t.ok(bans.add('192.0.2.2', 60));
  t.ok(bans.add('192.0.2.3', 60));
  t.equal(bans.add('192.0.2.4', 60), false, 'queue full');
  t.equal(bans.add('192.0.2.5', 60), false, 'queue full');
  t.ok(bans.remove('192.0.2.2'), 'an address already queued can be updated when full');
  t.ok(bans.add('192.0.2.2', 100), 'and updated again: the latest op is kept');
  t.match(bans.stats, { dropped: 2, queued: 2, inFlight: 1 });
  t.equal(errors.length, 1, 'one overflow report per burst');
  t.ok(await bans.flushed(5000));
  const list = await bans.list();
  t.same(list.map((e) => e.cidr).sort(), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
  t.ok((list.find((e) => e.cidr === '192.0.2.2')?.secondsLeft ?? 0) > 60, 'timeout of the latest add');
});

t.test('a flood of bans with updates mixed in: every address ends as its latest op says', async (t) => {
  // Many small pumps (maxInFlight 8) over a queue that keeps changing under
  // them: #pump keeps its place in the queue from one pump to the next.
  const ns = createNs(t, 'flood');
  await installRules(OPTS, ns.runner);
  const { bans, errors } = open(t, ns, { maxInFlight: 8 });
  const addr = (i: number) => `198.18.${i >> 8}.${i & 255}`;
  const want = new Set<string>();
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    if (!bans.add(addr(i), 600)) refused++;
    want.add(addr(i));
    if (i % 3 === 0 && i > 0) {
      bans.remove(addr(i - 1)); // queued or in flight: the latest op wins
      want.delete(addr(i - 1));
    }
    if (i % 7 === 0 && i > 10) {
      bans.add(addr(i - 10), 900); // again, maybe after a remove
      want.add(addr(i - 10));
    }
    if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // let acknowledgements in
  }
  t.equal(refused, 0, 'none refused');
  t.ok(await bans.flushed(30_000), 'all applied');
  t.same(errors, []);
  const have = entries(ns, 'sipwall-ban4').map((l) => l.split(' ')[2]!);
  t.equal(have.length, want.size, `${want.size} entries`);
  t.same(new Set(have), want, 'exactly the latest ops');
});

t.test('addAll: more bans than the queue holds all land, a slice at a time', async (t) => {
  // What a restart restoring a full state file does: 262,144 bans against a queue of 65,536.
  const ns = createNs(t, 'addall');
  await installRules(OPTS, ns.runner);
  const { bans, errors } = open(t, ns, { maxQueue: 100, maxInFlight: 16 });
  const until = Date.now() + 600_000;
  const list = Array.from({ length: 1000 }, (_, i): [string, number] => [`198.18.${i >> 8}.${i & 255}`, until]);
  const plain = list.slice(0, 300).filter(([cidr]) => bans.add(cidr, 600)).length;
  t.ok(plain < 300, `one add() after another overflows the queue (${plain} of 300 taken)`);
  t.ok(await bans.flushed(30_000));
  t.equal(await bans.addAll([...list, ['198.18.200.1', Date.now() - 1000]]), 1000, 'addAll takes them all, and skips a ban already over');
  t.ok(await bans.flushed(30_000));
  t.equal(entries(ns, 'sipwall-ban4').length, 1000, 'all in the kernel set');
  const left = (await bans.list()).map((e) => e.secondsLeft);
  t.ok(Math.min(...left) > 590 && Math.max(...left) <= 600, `timeouts from each ban's end (${Math.min(...left)}-${Math.max(...left)} s)`);
  t.equal(errors.length, 1, 'only the plain overflow was reported');
  bans.close();
  t.equal(await bans.addAll(list), 0, 'nothing after close()');
});

t.test('scan reads 150,000 bans without holding the event loop; removeAll lifts 131,072', async (t) => {
  const ns = createNs(t, 'scan');
  await installRules({ ...OPTS, setMaxElem: 262_144 }, ns.runner); // the configuration's default (inline.banSetMaxElem)
  const N = 150_000;
  const lines = Array.from({ length: N }, (_, i) => `add sipwall-ban4 10.${90 + (i >> 16)}.${(i >> 8) & 255}.${i & 255} timeout 600`);
  lines.push('add sipwall-ban6 2001:db8:1::/48 timeout 600');
  ns.exec(['ipset', 'restore'], lines.join('\n') + '\n');
  const { bans, errors } = open(t, ns);
  // The verdict loop's share: the entries visited between two reads of a
  // socket that always has a datagram waiting (loopback, to itself), as the
  // queue's socket does under load.
  let inTurn = 0;
  let most = 0;
  let ticking = true;
  const ping = createSocket('udp4');
  await new Promise<void>((r) => ping.bind(0, '127.0.0.1', r));
  const port = ping.address().port;
  ping.on('message', () => {
    inTurn = 0;
    if (ticking) ping.send('x', port, '127.0.0.1');
  });
  ping.send('x', port, '127.0.0.1');
  t.teardown(() => ping.close());
  let seen = 0;
  const n = await bans.scan(() => {
    seen++;
    if (++inTurn > most) most = inTurn;
  });
  ticking = false;
  t.equal(n, N + 1);
  t.equal(seen, N + 1, 'every entry of both sets');
  // A pipe read is at most 64 KiB, each line here over 30 bytes, and two
  // reads at most come between polls (BanSet.scan says why).
  t.ok(most <= (2 * 65_536) / 30, `two pipe reads at most between polls of the socket (${most} entries)`);
  const all = await bans.list();
  t.equal(all.length, N + 1, 'list() of more entries than one call can spread (push(...) threw past ~125,000)');
  t.match(all.find((e) => e.cidr === '2001:db8:1::/48'), { secondsLeft: Number });
  const inside = all.filter((e) => /^10\.9[01]\./.test(e.cidr)).map((e) => e.cidr);
  t.equal(inside.length, 131_072);
  t.equal(await bans.removeAll(inside), inside.length, 'removeAll takes twice what the queue holds');
  t.ok(await bans.flushed(60_000));
  t.equal(entries(ns, 'sipwall-ban4').length, N - 131_072, 'the rest stay');
  t.same(errors, []);
});

t.test('long bans are clamped to the ipset maximum', async (t) => {
  const ns = createNs(t, 'clamp');
  await installRules(OPTS, ns.runner);
  const { bans, errors } = open(t, ns);
  t.ok(bans.add('192.0.2.1', 1e9));
  t.ok(await bans.flushed(5000));
  t.same(errors, []);
  t.match(entries(ns, 'sipwall-ban4')[0], /timeout 214748[23]$/);
});

t.test('close() ends the child; later calls are refused', async (t) => {
  const ns = createNs(t, 'close');
  await installRules(OPTS, ns.runner);
  const bans = new BanSet({ runner: ns.runner });
  t.ok(bans.add('192.0.2.1', 60));
  const pid = bans.pid as number;
  await bans.close();
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the child exited');
  t.equal(entries(ns, 'sipwall-ban4').length, 1, 'what was pending was written first');
  t.equal(bans.add('192.0.2.2', 60), false);
  await bans.close();
});
