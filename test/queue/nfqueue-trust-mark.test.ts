// VERDICT_TRUST: the flow gets the trustMark bits in its connmark, so a
// `-m connmark --mark M/M -j ACCEPT` rule before the NFQUEUE rule lets the
// rest of the flow skip the queue.

import t from 'tap';
import { setupQueueEnv, SIP_PORT, TRUST_MARK, waitFor, type QueueEnv, type Reply } from './queue-fixture.js';

const QUEUE = 130;
const WATCH_MARK = 0x200000;
const DELIVERY_MS = 5000;
const CONNMARK_RULE = /ACCEPT\s+(17|udp).*connmark match/;

async function stats(env: QueueEnv): Promise<Reply> {
  return (await env.server.call('stats')).stats as Reply;
}

async function delivered(env: QueueEnv, payload: string): Promise<boolean> {
  return waitFor(async () => ((await env.server.call('received')).udp as string[]).includes(payload), DELIVERY_MS);
}

function conntrackMark(env: QueueEnv, sport: number): number | undefined {
  const table = env.pair.run(env.pair.server, ['cat', '/proc/net/nf_conntrack']);
  const line = table.split('\n').find((l) => l.includes(`sport=${sport} dport=${SIP_PORT}`));
  const m = line === undefined ? null : /mark=(\d+)/.exec(line);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

t.test('trust verdict marks the connection', async (t) => {
  const env = await setupQueueEnv(t, QUEUE);
  const opened = await env.server.call('open', { opts: { queueNum: QUEUE, watchMark: WATCH_MARK } });
  t.equal(opened.ok, true, 'queue opens');
  t.comment(
    opened.conntrackMark
      ? 'kernel has the conntrack glue: the verdict sets the connmark itself'
      : 'no conntrack glue in this kernel: packet mark, copied by the security-table rule',
  );
  await env.server.call('listen', { proto: 'udp4', port: SIP_PORT });
  const to = env.pair.serverV4;

  await t.test('from the JavaScript verdict', async (t) => {
    const sport = 41000;
    await env.client.call('sendUdp', { family: 4, to, port: SIP_PORT, payloads: ['TRUSTME'], srcPort: sport });
    t.ok(await delivered(env, 'TRUSTME'), 'trusted packet delivered');
    const mark = conntrackMark(env, sport);
    t.equal(mark !== undefined && (mark & TRUST_MARK) === TRUST_MARK, true, `connmark has the trust bits (${String(mark)})`);

    const before = await stats(env);
    const ruleBefore = env.ruleCount(4, CONNMARK_RULE);
    // Would be dropped by JavaScript: delivered because the flow skips the queue.
    await env.client.call('sendUdp', { family: 4, to, port: SIP_PORT, payloads: ['same-flow-DROPME'], srcPort: sport });
    t.ok(await delivered(env, 'same-flow-DROPME'), 'the rest of the flow is delivered');
    t.equal(env.ruleCount(4, CONNMARK_RULE) - ruleBefore, 1, 'through the connmark ACCEPT rule');
    const after = await stats(env);
    t.equal(after.packets, before.packets, 'without reaching the queue');

    await env.client.call('sendUdp', { family: 4, to, port: SIP_PORT, payloads: ['other-flow-DROPME', 'other-flow-end'], srcPort: sport + 1 });
    t.ok(await delivered(env, 'other-flow-end'), 'another flow still goes through the queue');
    t.notOk(((await env.server.call('received')).udp as string[]).includes('other-flow-DROPME'), 'and is judged there');
    t.equal((await stats(env)).trusted, 1, 'one trust verdict so far');
  });

  await t.test('other bits of the packet mark are kept', async (t) => {
    const sport = 41020;
    env.ipt(4, ['-t', 'mangle', '-A', 'PREROUTING', '-p', 'udp', '--sport', String(sport), '-j', 'MARK', '--set-mark', '0x10000']);
    // Counts packets whose mark is exactly admin bit | trust bits after the verdict.
    const both = `0x${(0x10000 | TRUST_MARK).toString(16)}`;
    env.ipt(4, ['-t', 'security', '-A', 'INPUT', '-m', 'mark', '--mark', both]);
    await env.client.call('sendUdp', { family: 4, to, port: SIP_PORT, payloads: ['DESCME-TRUSTME-marked'], srcPort: sport });
    t.ok(await delivered(env, 'DESCME-TRUSTME-marked'), 'delivered');
    const s = await env.server.call('stats');
    t.equal(s.lastDesc?.mark, 0x10000, 'the descriptor shows the mark the packet was queued with');
    t.equal(env.ruleCount(4, new RegExp(`mark match ${both}$`), 'security'), 1, 'verdict mark = queued mark | trustMark');
  });

  await t.test('a watch verdict sets the watchMark bits and keeps the others', async (t) => {
    const sport = 41030;
    env.ipt(4, ['-t', 'mangle', '-A', 'PREROUTING', '-p', 'udp', '--sport', String(sport), '-j', 'MARK', '--set-mark', '0x10000']);
    const both = `0x${(0x10000 | WATCH_MARK).toString(16)}`;
    env.ipt(4, ['-t', 'security', '-A', 'INPUT', '-m', 'mark', '--mark', both]);
    const before = await stats(env);
    // Two in a row: a marking verdict is never folded into a range verdict (which carries no mark).
    await env.client.call('sendUdp', { family: 4, to, port: SIP_PORT, payloads: ['WATCHME-1', 'WATCHME-2'], srcPort: sport });
    t.ok(await delivered(env, 'WATCHME-2'), 'delivered');
    t.equal(env.ruleCount(4, new RegExp(`mark match ${both}$`), 'security'), 2, 'verdict mark = queued mark | watchMark, for each packet');
    const after = await stats(env);
    t.equal(after.accepted - before.accepted, 2, 'counted as accepts');
    t.equal(after.trusted, before.trusted, 'not as trusts');
  });

  await t.test('from a hot-table trust entry', async (t) => {
    const sport = 41010;
    t.equal((await env.server.call('hotSet', { addr: env.pair.clientV4, verdict: 2, ttlMs: 60_000 })).result, true, 'set');
    const before = await stats(env);
    await env.client.call('sendUdp', { family: 4, to, port: SIP_PORT, payloads: ['hot-trust-DROPME'], srcPort: sport });
    t.ok(await delivered(env, 'hot-trust-DROPME'), 'delivered: trusted in C');
    const after = await stats(env);
    t.equal(after.hotTrust - before.hotTrust, 1, 'hot trust hit');
    t.equal(after.toJs, before.toJs, 'no JavaScript');
    const mark = conntrackMark(env, sport);
    t.equal(mark !== undefined && (mark & TRUST_MARK) === TRUST_MARK, true, `connmark has the trust bits (${String(mark)})`);
    await env.server.call('hotClear');
  });
});
