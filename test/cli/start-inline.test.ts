// `sipwall start` end to end in network namespaces: real iptables, a real
// NFQUEUE, the native addon, the engine, real UDP and TCP SIP from a client
// namespace to a PBX stand-in. Needs root (CI runs as root).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { HOST4, HOST6, PEER_A4, PEER_A6, PEER_B4, SipLab, withCallId, type SipwallProc } from '../helpers/sip-lab.js';
import { samples } from '../helpers/engine-fixtures.js';

const SECRET = 'secret-7f3a.pbx.example.com';
const scanner = samples('friendly-scanner').find((s) => s.name.includes('register'))!.data;
const phone = samples('rate-register')[0]!.data; // a plain REGISTER with a real phone's UA
const toSecret = samples('_legit').find((s) => s.name.includes('secret'))!.data;
const BIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
// A peer address in its own /64, so banning it per /64 (the default) bans no one else.
const PEER_C6 = 'fd78:1::2';

let ids = 0;
const cid = (tag: string): string => `${tag}-${process.pid}-${ids++}`;

function config(bans = 'bans: {baseSeconds: 3, factor: 1, maxSeconds: 3}'): string {
  return `secretHosts: [${SECRET}]
rateLimits:
  register: {limit: 5, windowSeconds: 60}
${bans}
inline: {queueNum: 310}
`;
}

async function stop(p: SipwallProc): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode;
  const done = new Promise<number | null>((r) => p.child.once('exit', (code) => r(code)));
  p.child.kill('SIGTERM');
  return Promise.race([done, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
}

/** Sends a message over UDP; true if the PBX got it. A miss is confirmed by a later message that did arrive. */
async function udpDelivered(lab: SipLab, src: string, dst: string, msg: Buffer, control: { src: string; msg: Buffer }): Promise<boolean> {
  const id = cid('u');
  await lab.send('udp', src, dst, [withCallId(msg, id)]);
  if (await lab.received(id, 400)) return true;
  const c = cid('c');
  await lab.send('udp', control.src, dst, [withCallId(control.msg, c)]);
  if (!(await lab.received(c, 5000))) throw new Error(`control message from ${control.src} did not arrive`);
  return lab.received(id, 200);
}

function ipsetHas(lab: SipLab, set: string, entry: string): boolean {
  const out = lab.pair.host.exec(['ipset', 'list', set]);
  return out.split('\n').some((l) => l.startsWith(`${entry} `) || l === entry);
}

t.test('UDP, IPv4 and IPv6: scanner dropped and banned in the kernel set, secret-host phone accepted and trusted', async (t) => {
  const lab = await SipLab.start(t, 'st1');
  lab.pair.peer.exec(['ip', 'addr', 'add', `${PEER_C6}/64`, 'dev', 'vp', 'nodad']);
  lab.pair.host.exec(['ip', '-6', 'route', 'add', 'fd78:1::/64', 'dev', 'vh']);
  const sw = await lab.sipwall(config());
  t.teardown(() => stop(sw));
  const control = { src: PEER_B4, msg: toSecret };

  t.ok(await udpDelivered(lab, PEER_B4, HOST4, toSecret, control), 'the phone naming the secret host gets through');
  t.ok(await lab.until(() => sw.events().some((e) => e['event'] === 'trust' && e['source'] === PEER_B4)), 'and is trusted (logged)');

  t.notOk(await udpDelivered(lab, PEER_A4, HOST4, scanner, control), 'friendly-scanner REGISTER dropped');
  t.ok(await lab.until(() => ipsetHas(lab, 'sipwall-ban4', PEER_A4)), 'its source is in sipwall-ban4');
  const ban = sw.events().find((e) => e['event'] === 'ban' && e['source'] === PEER_A4);
  t.match(ban, { reason: 'scanner-ua', rule: 'friendly-scanner', seconds: 3 }, 'ban logged with reason and rule');
  t.notOk(await udpDelivered(lab, PEER_A4, HOST4, phone, control), 'everything else from it is dropped too');
  t.ok(Number(lab.pair.host.exec(['iptables-save', '-c', '-t', 'raw']).match(/\[(\d+):\d+\] -A SIPWALL-BAN -p udp/)?.[1]) > 0, 'by the raw-table ipset rule, before the queue');

  const c6 = { src: 'fd77::3', msg: toSecret };
  t.ok(await udpDelivered(lab, 'fd77::3', HOST6, toSecret, c6), 'IPv6 phone naming the secret host gets through');
  t.notOk(await udpDelivered(lab, PEER_C6, HOST6, scanner, c6), 'IPv6 scanner dropped');
  t.ok(await lab.until(() => ipsetHas(lab, 'sipwall-ban6', 'fd78:1::/64')), 'its /64 is in sipwall-ban6');
});

t.test('rate limit enforced, then the ban expires in the engine, the hot table and the kernel set', async (t) => {
  const lab = await SipLab.start(t, 'st2');
  const sw = await lab.sipwall(config());
  t.teardown(() => stop(sw));
  const control = { src: PEER_B4, msg: toSecret };
  let delivered = 0;
  for (let i = 0; i < 6; i++) if (await udpDelivered(lab, PEER_A4, HOST4, phone, control)) delivered++;
  t.equal(delivered, 5, 'REGISTER limit 5 per 60 s: five get through, the sixth does not');
  t.ok(sw.events().some((e) => e['event'] === 'ban' && e['reason'] === 'rate-register'), 'banned for rate-register');
  t.ok(ipsetHas(lab, 'sipwall-ban4', PEER_A4), 'in the kernel set');
  await new Promise((r) => setTimeout(r, 3500));
  t.notOk(ipsetHas(lab, 'sipwall-ban4', PEER_A4), 'the kernel entry timed out');
  // The rate window still holds 5 REGISTERs, so probe with an OPTIONS (limit 'all' is 60).
  const options = samples('rate-all')[0]!.data;
  t.ok(await udpDelivered(lab, PEER_A4, HOST4, options, control), 'after 3 s the source gets through again');
});

t.test('TCP: a scanner UA in the second segment of a split REGISTER is caught; a split legit REGISTER passes', async (t) => {
  const lab = await SipLab.start(t, 'st3');
  const sw = await lab.sipwall(config());
  t.teardown(() => stop(sw));
  // Counts every packet of the phone's connection to the PBX, queued or not.
  lab.pair.host.exec(['iptables', '-t', 'mangle', '-A', 'PREROUTING', '-s', PEER_B4, '-p', 'tcp', '--dport', '5060']);
  const good = withCallId(toSecret, cid('tcp-good'));
  const cutGood = good.indexOf('Contact');
  const next = withCallId(phone, cid('tcp-next'));
  await lab.send('tcp', PEER_B4, HOST4, [good.subarray(0, cutGood), good.subarray(cutGood), next], 150);
  t.ok(await lab.received(good.toString().match(/Call-ID: (\S+)/)![1]!, 5000), 'the split legit REGISTER reaches the PBX whole');
  t.ok(await lab.received(next.toString().match(/Call-ID: (\S+)/)![1]!, 5000), 'and the next message on that connection');
  const count = (table: string, re: RegExp): number => Number(re.exec(lab.pair.host.exec(['iptables-save', '-c', '-t', table]))?.[1] ?? 0);
  t.ok(count('security', /\[(\d+):\d+\] -A SIPWALL-MARK -m mark --mark 0x5157\/0x5157 -j CONNMARK/) > 0, 'the trusted verdict marked the connection');
  const sent = count('mangle', /\[(\d+):\d+\] -A PREROUTING -s \S+ -p tcp -m tcp --dport 5060\n/);
  const queued = count('mangle', /\[(\d+):\d+\] -A SIPWALL -p tcp -m tcp --dport 5060:5082 -j NFQUEUE/);
  t.ok(queued > 0 && sent > queued, `and its later segments skipped the queue (${sent} packets, ${queued} queued)`);

  const bad = withCallId(scanner, cid('tcp-bad'));
  const cut = bad.indexOf('User-Agent') + 4;
  await lab.send('tcp', PEER_A4, HOST4, [bad.subarray(0, cut), bad.subarray(cut)], 150);
  t.notOk(await lab.received(bad.toString().match(/Call-ID: (\S+)/)![1]!, 1500), 'the PBX never gets the scanner REGISTER');
  t.ok(await lab.until(() => ipsetHas(lab, 'sipwall-ban4', PEER_A4)), 'its source is banned');
});

t.test('a normal stop leaves no rule or set behind', async (t) => {
  const lab = await SipLab.start(t, 'st4');
  lab.pair.host.exec(['iptables', '-t', 'mangle', '-A', 'INPUT', '-p', 'udp', '--dport', '9999', '-j', 'ACCEPT']); // the admin's own rule
  const before4 = lab.pair.host.save(4);
  const before6 = lab.pair.host.save(6);
  const sw = await lab.sipwall(config());
  t.match(lab.pair.host.save(4), /-j NFQUEUE --queue-num 310 --queue-bypass/, 'rules installed while running');
  t.equal(await stop(sw), 0, 'exits 0 on SIGTERM');
  const norm = (s: string): string => s.split('\n').filter((l) => !/^\*|^COMMIT|^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /.test(l)).join('\n');
  t.equal(norm(lab.pair.host.save(4)), norm(before4), 'IPv4 ruleset as before (the admin rule kept)');
  t.equal(norm(lab.pair.host.save(6)), norm(before6), 'IPv6 ruleset as before');
  t.same(lab.pair.host.ipsetNames(), [], 'no ipset left');
  t.ok(sw.events().some((e) => e['event'] === 'stop'), 'stop logged');
  t.notOk(sw.events().some((e) => e['event'] === 'gc-memory-reducer'), 'started with --no-memory-reducer: no GC warning');
  t.notOk(sw.events().some((e) => e['event'] === 'answer-prefilter'), 'the answer prefilter is in force: no warning');

  // Signals that arrive while the rules are being removed must not cut that short.
  // (This run also names 401 an unknown-user answer, which turns the kernel's answer prefilter off: the start says so.)
  const again = await lab.sipwall(`${config()}answers: {unknownUserStatus: [401, 404]}\n`);
  t.ok(again.events().some((e) => e['event'] === 'answer-prefilter' && /unknownUserStatus lists 401 or 407/.test(String(e['message']))), 'every answer queued, and the start says why');
  const done = new Promise<number | null>((r) => again.child.once('exit', (code) => r(code)));
  again.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 5));
  again.child.kill('SIGINT');
  again.child.kill('SIGHUP');
  again.child.kill('SIGTERM');
  t.equal(await done, 0, 'a stop interrupted by SIGINT, SIGHUP and SIGTERM still exits 0');
  t.equal(norm(lab.pair.host.save(4)), norm(before4), 'with every rule removed');
  t.same(lab.pair.host.ipsetNames(), [], 'and every set');

  // Ctrl-C in a terminal signals the whole foreground process group: sipwall's
  // children (the ipset pipe, iptables-restore) must not get it, or the stop
  // reports a dead ipset pipe, and an iptables-restore cut short could leave rules.
  const tty = await lab.sipwall(config(), [], { ownProcessGroup: true });
  const exited = new Promise<number | null>((r) => tty.child.once('exit', (code) => r(code)));
  process.kill(-tty.child.pid!, 'SIGINT');
  t.equal(await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]), 0, 'Ctrl-C: exits 0');
  t.same(tty.events().filter((e) => e['level'] === 'error'), [], 'and logs no error');
  t.equal(norm(lab.pair.host.save(4)), norm(before4), 'with every rule removed');
  t.same(lab.pair.host.ipsetNames(), [], 'and every set');
});

t.test('kill -9 in fail-open mode leaves SIP flowing; cleanup then removes the rules', async (t) => {
  const lab = await SipLab.start(t, 'st5');
  const sw = await lab.sipwall(config());
  const cleanup = (...extra: string[]) => spawnSync('ip', ['netns', 'exec', lab.pair.host.name, 'node', BIN, 'cleanup', '--config', lab.lastConfig, ...extra], { encoding: 'utf8' });
  const live = cleanup();
  t.equal(live.status, 69, 'cleanup refuses while sipwall has the queue bound');
  t.match(live.stderr, /queue \d+ is bound .*a sipwall is running; stop it instead/);
  t.match(lab.pair.host.save(4), /NFQUEUE/, 'and leaves its rules in place');
  sw.child.kill('SIGKILL');
  await new Promise((r) => sw.child.once('exit', r));
  t.match(lab.pair.host.save(4), /NFQUEUE/, 'rules are still there after the kill');
  const id = cid('after-kill');
  await lab.send('udp', PEER_A4, HOST4, [withCallId(phone, id)]);
  t.ok(await lab.received(id, 3000), 'SIP reaches the PBX unfiltered (--queue-bypass)');
  const r = cleanup();
  t.equal(r.status, 0, r.stderr);
  t.notMatch(lab.pair.host.save(4), /SIPWALL/, 'cleanup removed the chains');
  const again = await lab.sipwall(config());
  t.match(lab.pair.host.save(4), /NFQUEUE/, 'and a new start installs them again');
  const forced = cleanup('--force');
  t.equal(forced.status, 0, `--force removes them under a running sipwall: ${forced.stderr}`);
  t.notMatch(lab.pair.host.save(4), /SIPWALL/);
  t.equal(await stop(again), 0);
});

t.test('bans survive kill -9 and a reboot-like loss of the kernel sets', async (t) => {
  const lab = await SipLab.start(t, 'st7');
  const sw = await lab.sipwall(config('bans: {baseSeconds: 600, factor: 1, maxSeconds: 600}'));
  const control = { src: PEER_B4, msg: toSecret };
  t.notOk(await udpDelivered(lab, PEER_A4, HOST4, scanner, control), 'scanner dropped and banned');
  await new Promise((r) => setTimeout(r, 1500)); // the store writes at most one second after a ban
  sw.child.kill('SIGKILL');
  await new Promise((r) => sw.child.once('exit', r));
  const r = spawnSync('ip', ['netns', 'exec', lab.pair.host.name, 'node', BIN, 'cleanup', '--config', lab.lastConfig], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(lab.pair.host.ipsetNames(), [], 'kernel sets gone, as after a reboot');
  const again = await lab.sipwall(config('bans: {baseSeconds: 600, factor: 1, maxSeconds: 600}'));
  t.teardown(() => stop(again));
  t.match(again.events().find((e) => e['event'] === 'state-restored'), { bans: 1 }, 'the ban was restored from the state file');
  t.ok(ipsetHas(lab, 'sipwall-ban4', PEER_A4), 'and put back in the kernel set');
  t.notOk(await udpDelivered(lab, PEER_A4, HOST4, phone, control), 'so the source stays banned');
});

t.test('kill -9 in the middle of heavy banning loses at most the last second of bans', async (t) => {
  const lab = await SipLab.start(t, 'st8');
  const sources = Array.from({ length: 40 }, (_, i) => `10.77.0.${100 + i}`);
  for (const a of sources) lab.pair.peer.exec(['ip', 'addr', 'add', `${a}/24`, 'dev', 'vp']);
  const yaml = config('bans: {baseSeconds: 600, factor: 1, maxSeconds: 600}');
  const sw = await lab.sipwall(yaml);
  for (const src of sources) {
    await lab.send('udp', src, HOST4, [withCallId(scanner, cid('storm'))]);
    await new Promise((r) => setTimeout(r, 60)); // ~2.5 s of banning
  }
  await lab.until(() => sw.events().filter((e) => e['event'] === 'ban').length === sources.length);
  sw.child.kill('SIGKILL');
  const killedAt = Date.now();
  await new Promise((r) => sw.child.once('exit', r));
  const banned = sw.events().filter((e) => e['event'] === 'ban');
  t.equal(banned.length, sources.length, 'every source was banned before the kill');
  const r = spawnSync('ip', ['netns', 'exec', lab.pair.host.name, 'node', BIN, 'cleanup', '--config', lab.lastConfig], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const again = await lab.sipwall(yaml);
  t.teardown(() => stop(again));
  const listed = spawnSync('ip', ['netns', 'exec', lab.pair.host.name, 'node', BIN, 'bans', '--json', '--socket', lab.controlSocket], { encoding: 'utf8' });
  const restored = new Set((JSON.parse(listed.stdout) as { bans: Array<{ source: string }> }).bans.map((b) => b.source));
  const older = banned.filter((e) => Date.parse(String(e['time'])) < killedAt - 1000);
  t.ok(older.length >= 20, `${older.length} bans were more than a second old at the kill`);
  t.same(older.filter((e) => !restored.has(String(e['source']))).map((e) => e['source']), [], 'all of them came back');
  t.ok(restored.size >= older.length, `${restored.size} of ${banned.length} restored`);
});

t.test('answers: the PBX\'s 401s to guessed passwords, watched on their way out, ban the guesser in the kernel', async (t) => {
  const lab = await SipLab.start(t, 'st9');
  // No signature could catch this: a real phone's User-Agent. Rate limits high.
  const sw = await lab.sipwall(`secretHosts: [${SECRET}]\nrateLimits:\n  register: {limit: 1000, windowSeconds: 60}\ninline: {queueNum: 310}\n`);
  t.teardown(() => stop(sw));
  const guess = (i: number): Buffer =>
    Buffer.from(
      phone
        .toString('latin1')
        .replace(/^(CSeq:\s*)\d+/im, `$1${i + 2}`)
        .replace('\r\nContent-Length:', `\r\nAuthorization: Digest username="1000", realm="pbx", nonce="n${i}", uri="sip:pbx", response="00000000000000000000000000000000"\r\nX-Lab-Answer: 401 Unauthorized\r\nContent-Length:`),
      'latin1',
    );
  // Answers that say nothing leave without being queued: the 401 challenge to
  // a REGISTER without credentials (the first answer every phone gets).
  const queuedOut6 = (): number => [...lab.pair.host.exec(['ip6tables-save', '-c', '-t', 'mangle']).matchAll(/^\[(\d+):\d+\] -A SIPWALL-OUT .*-j NFQUEUE/gm)].reduce((n, m) => n + Number(m[1]), 0);
  const challenge = Buffer.from(phone.toString('latin1').replace('\r\nContent-Length:', '\r\nX-Lab-Answer: 401 Unauthorized\r\nContent-Length:'), 'latin1');
  for (let i = 0; i < 3; i++) {
    const id = cid('challenge');
    await lab.send('udp', PEER_A6, HOST6, [withCallId(challenge, id)]);
    t.ok(await lab.received(id, 2000), `challenged REGISTER ${i + 1} reached the PBX`);
  }
  await new Promise((r) => setTimeout(r, 300)); // the 401s have left by now
  t.equal(queuedOut6(), 0, 'no 401 challenge was queued');
  // A 404 tells whoever asked: queued, read, and (unknownUsersBeforeAuth) the prober is banned.
  const probe = Buffer.from(phone.toString('latin1').replace('\r\nContent-Length:', '\r\nX-Lab-Answer: 404 Not Found\r\nContent-Length:'), 'latin1');
  await lab.send('udp', PEER_A6, HOST6, [withCallId(probe, cid('probe'))]);
  t.ok(await lab.until(() => ipsetHas(lab, 'sipwall-ban6', 'fd77::/64'), 3000), 'a 404 is queued and read: the prober is banned');
  t.equal(queuedOut6(), 1, 'that one answer was queued');

  const limit = 5; // answers.authFailures default
  let reached = 0;
  for (let i = 0; i < limit + 3; i++) {
    const id = cid('guess');
    await lab.send('udp', PEER_A4, HOST4, [withCallId(guess(i), id)]);
    if (await lab.received(id, 1000)) reached++;
    // The sender does not wait for the 401: give the answer time to pass the queue.
    await lab.until(() => i + 1 < limit || ipsetHas(lab, 'sipwall-ban4', PEER_A4), 3000);
  }
  t.equal(reached, limit, `${limit} guesses reached the PBX, the rest were dropped`);
  t.ok(ipsetHas(lab, 'sipwall-ban4', PEER_A4), 'the guesser is in the kernel ban set');
  t.ok(sw.events().some((e) => e['event'] === 'ban' && e['reason'] === 'auth-failures' && e['source'] === PEER_A4), 'banned for auth-failures, logged with the remote address');
  const out = lab.pair.host.exec(['iptables-save', '-c', '-t', 'mangle']);
  t.ok(Number(/\[(\d+):\d+\] -A SIPWALL-OUT -p udp/.exec(out)?.[1]) >= limit, 'the answers went through the out chain\'s queue');
  // A phone dialling the secret host is trusted: its answers skip the queue by connmark.
  t.ok(await udpDelivered(lab, PEER_B4, HOST4, toSecret, { src: PEER_B4, msg: toSecret }), 'the phone still gets through');
});

t.test('kill -9 in fail-closed mode leaves SIP blocked until sipwall returns', async (t) => {
  const lab = await SipLab.start(t, 'st6');
  const yaml = config().replace('inline: {queueNum: 310}', 'inline: {queueNum: 310, failOpen: false}');
  const sw = await lab.sipwall(yaml);
  const saved = lab.pair.host.save(4).split('\n');
  t.notOk(saved.some((l) => l.startsWith('-A SIPWALL ') && l.includes('queue-bypass')), 'no --queue-bypass on inbound SIP in fail-closed mode');
  t.ok(saved.filter((l) => l.startsWith('-A SIPWALL-OUT ') && l.includes('NFQUEUE')).every((l) => l.includes('--queue-bypass')), 'watched answers still leave while sipwall is down');
  sw.child.kill('SIGKILL');
  await new Promise((r) => sw.child.once('exit', r));
  const id = cid('closed');
  await lab.send('udp', PEER_B4, HOST4, [withCallId(toSecret, id)]);
  t.notOk(await lab.received(id, 1500), 'nothing reaches the PBX while sipwall is down');
  const back = await lab.sipwall(yaml);
  const id2 = cid('back');
  await lab.send('udp', PEER_B4, HOST4, [withCallId(toSecret, id2)]);
  t.ok(await lab.received(id2, 3000), 'a new start replaces the leftover rules and SIP flows again');
  t.equal(await stop(back), 0);
});
