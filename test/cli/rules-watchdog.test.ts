// A running sipwall whose rules another tool removes, end to end in
// namespaces: a firewall reset flushes every table and destroys the sets
// under it; sipwall notices within inline.ruleCheckSeconds, logs it, puts
// its rules back with the engine's bans, and filters again. A normal stop
// afterwards still leaves nothing behind (no check races the removal).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { samples } from '../helpers/engine-fixtures.js';
import { HOST4, PEER_A4, PEER_B4, SipLab, withCallId } from '../helpers/sip-lab.js';

const BIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const SECRET = 'secret-7f3a.pbx.example.com';
const scanner = samples('friendly-scanner').find((s) => s.name.includes('register'))!.data;
let n = 0;
const cid = (): string => `wd-${process.pid}-${n++}`;
const idOf = (m: Buffer): string => m.toString('latin1').match(/Call-ID: (\S+)/)![1]!;

t.test('rules removed under a running sipwall are put back, bans included', async (t) => {
  const lab = await SipLab.start(t, 'wd');
  const before = { v4: lab.pair.host.save(4), v6: lab.pair.host.save(6), sets: lab.pair.host.ipsetNames() };
  const sw = await lab.sipwall(`secretHosts: [${SECRET}]\ninline: {queueNum: 314, ruleCheckSeconds: 1}\nbans: {baseSeconds: 600, factor: 1, maxSeconds: 600}\n`);
  const exited = new Promise<number | null>((r) => sw.child.once('exit', (c) => r(c)));
  t.teardown(() => {
    sw.child.kill('SIGTERM');
  });
  const installed = lab.pair.host.save(4);
  const inSet = (): boolean => lab.pair.host.exec(['ipset', 'list', 'sipwall-ban4']).includes(PEER_A4);

  await lab.send('udp', PEER_A4, HOST4, [withCallId(scanner, cid())]);
  t.ok(await lab.until(inSet), 'a scanner is banned, in the kernel set');
  const ban = spawnSync(process.execPath, [BIN, 'ban', '10.88.0.0/16', '--for', '10m', '--socket', lab.controlSocket], { encoding: 'utf8', timeout: 20_000 });
  t.equal(ban.status, 0, `a network banned by hand: ${ban.stderr}`);
  const netInSet = (): boolean => lab.pair.host.exec(['ipset', 'list', 'sipwall-ban4']).includes('10.88.0.0/16 timeout');
  t.ok(await lab.until(netInSet), 'in the kernel set');

  // A "reset the firewall" script. sipwall is stopped (SIGSTOP) while it
  // runs: a check (every second here) landing half way would put the rules
  // back before the sets go, and the script's destroy would then fail.
  process.kill(sw.child.pid!, 'SIGSTOP');
  try {
    for (const cmd of ['iptables', 'ip6tables']) {
      for (const table of ['raw', 'mangle', 'security']) {
        lab.pair.host.exec([cmd, '-t', table, '-F']);
        lab.pair.host.exec([cmd, '-t', table, '-X']);
      }
    }
    await lab.pair.host.destroySets();
  } finally {
    process.kill(sw.child.pid!, 'SIGCONT');
  }
  t.notMatch(lab.pair.host.save(4), /SIPWALL/, 'all of it gone');

  t.ok(await lab.until(() => sw.events().some((e) => e['event'] === 'rules-restored'), 5000), 'put back within a few seconds');
  const missing = sw.events().find((e) => e['event'] === 'rules-missing');
  t.equal(missing?.['level'], 'error', 'the removal is logged as an error');
  t.ok((missing?.['missing'] as string[]).includes('IPv4 mangle INPUT: the jump to SIPWALL is missing'), 'naming what went');
  t.match(sw.events().find((e) => e['event'] === 'rules-restored'), { setsCreated: ['sipwall-ban4', 'sipwall-ban6'], bansRefilled: 2 });
  t.equal(lab.pair.host.save(4), installed, 'the same rules as at start');
  t.ok(await lab.until(inSet), 'the engine\'s ban is back in the recreated kernel set');
  t.ok(await lab.until(netInSet), 'and so is the network banned by hand (it lived only there)');

  const bad = withCallId(scanner, cid());
  await lab.send('udp', PEER_B4, HOST4, [bad]);
  t.notOk(await lab.received(idOf(bad), 800), 'filtering again: a new scanner is dropped');
  await new Promise((r) => setTimeout(r, 2500));
  const st = spawnSync(process.execPath, [BIN, 'status', '--socket', lab.controlSocket], { encoding: 'utf8', timeout: 20_000 });
  t.match(st.stdout, /kernel rules removed by another tool and put back 1 time/, 'sipwall status says so');
  t.equal(sw.events().filter((e) => e['event'] === 'rules-restored').length, 1, 'once: an intact install is not reinstalled every second');
  sw.child.kill('SIGTERM');
  t.equal(await exited, 0, 'stops cleanly');
  // Built-in chains of a table iptables-nft created stay: only rules count.
  const norm = (s: string): string => s.split('\n').filter((l) => !/^\*|^COMMIT|^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /.test(l)).join('\n');
  t.equal(norm(lab.pair.host.save(4)), norm(before.v4), 'and leaves no rule behind');
  t.equal(norm(lab.pair.host.save(6)), norm(before.v6));
  t.same(lab.pair.host.ipsetNames(), before.sets, 'nor set');
});
