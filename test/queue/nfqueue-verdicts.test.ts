// Verdicts through a real kernel queue: UDP and TCP, IPv4 and IPv6, packets
// carrying DROPME never reach the listener in the server namespace, the others
// do; the descriptors describe the packet; a callback that throws or leaves a
// packet unanswered fails open.

import t, { type Test } from 'tap';
import { FLAG_IPV6, FLAG_TRUNCATED } from '../../src/queue/nfqueue.js';
import { setupQueueEnv, SIP_PORT, waitFor, type QueueEnv } from './queue-fixture.js';

const QUEUE = 110;
const DELIVERY_MS = 5000;

async function receivedUdp(env: QueueEnv): Promise<string[]> {
  return (await env.server.call('received')).udp as string[];
}

async function udpRound(t: Test, env: QueueEnv, family: 4 | 6): Promise<void> {
  const to = family === 4 ? env.pair.serverV4 : env.pair.serverV6;
  const tag = `v${family}`;
  const before = (await env.server.call('stats')).stats;
  await env.client.call('sendUdp', { family, to, port: SIP_PORT, payloads: [`${tag}-first`, `${tag}-DROPME`, `${tag}-last`] });
  // Verdicts are sent in packet order, so once the last one is in, the
  // DROPME one in between has had its verdict too.
  const arrived = await waitFor(async () => (await receivedUdp(env)).includes(`${tag}-last`), DELIVERY_MS);
  t.ok(arrived, `${tag}: the packet after the dropped one arrives`);
  const got = await receivedUdp(env);
  t.ok(got.includes(`${tag}-first`), `${tag}: accepted packet delivered`);
  t.notOk(got.includes(`${tag}-DROPME`), `${tag}: DROPME packet not delivered`);
  const after = (await env.server.call('stats')).stats;
  t.equal(after.dropped - before.dropped, 1, `${tag}: one drop verdict`);
  t.equal(after.toJs - before.toJs, 3, `${tag}: three packets seen by JavaScript`);
}

async function tcpRound(t: Test, env: QueueEnv, family: 4 | 6): Promise<void> {
  const to = family === 4 ? env.pair.serverV4 : env.pair.serverV6;
  const before = (await env.server.call('stats')).stats;
  const ok = await env.client.call('tcpSend', { to, port: SIP_PORT, payload: `tcp${family}-hello`, waitMs: DELIVERY_MS });
  t.equal(ok.connected, true, `tcp${family}: handshake passes the queue`);
  t.equal(ok.echoed, 'OK\n', `tcp${family}: data delivered and answered`);
  // A dropped segment is retransmitted and dropped again: the listener never
  // sees it. The wait bounds the check, it measures nothing.
  const dropped = await env.client.call('tcpSend', { to, port: SIP_PORT, payload: `tcp${family}-DROPME`, waitMs: 1500 });
  t.equal(dropped.connected, true, `tcp${family}: handshake of the second connection passes`);
  t.equal(dropped.echoed, '', `tcp${family}: no answer to a dropped segment`);
  const tcp = (await env.server.call('received')).tcp as string[];
  t.ok(tcp.includes(`tcp${family}-hello`), `tcp${family}: listener got the accepted data`);
  t.notOk(tcp.some((d) => d.includes(`tcp${family}-DROPME`)), `tcp${family}: listener never got DROPME`);
  const after = (await env.server.call('stats')).stats;
  // The pure ACKs of both connections stayed in C (their SYNs, FINs and RSTs
  // go to JavaScript, which follows connections by them: test/cli/tls-ports.test.ts).
  t.ok(after.tcpEmptyAccept - before.tcpEmptyAccept >= 2, `tcp${family}: pure ACKs accepted in C`);
  t.ok(after.dropped - before.dropped >= 1, `tcp${family}: the data segment was dropped`);
}

t.test('verdicts over a real NFQUEUE', async (t) => {
  const env = await setupQueueEnv(t, QUEUE);
  const opened = await env.server.call('open', { opts: { queueNum: QUEUE } });
  t.equal(opened.ok, true, 'queue opens');
  await env.server.call('listen', { proto: 'udp6', port: SIP_PORT }); // dual-stack: v4 too
  await env.server.call('listen', { proto: 'tcp', port: SIP_PORT });

  await t.test('UDP over IPv4', (t) => udpRound(t, env, 4));
  await t.test('UDP over IPv6', (t) => udpRound(t, env, 6));
  await t.test('TCP over IPv4', (t) => tcpRound(t, env, 4));
  await t.test('TCP over IPv6', (t) => tcpRound(t, env, 6));

  await t.test('descriptors describe the packet', async (t) => {
    const ifindex = Number(/^(\d+):/.exec(env.pair.run(env.pair.server, ['ip', '-o', 'link', 'show', env.pair.ifname]))?.[1]);
    for (const family of [4, 6] as const) {
      const payload = `DESCME-${family}-${'x'.repeat(100)}`;
      const to = family === 4 ? env.pair.serverV4 : env.pair.serverV6;
      await env.client.call('sendUdp', { family, to, port: SIP_PORT, payloads: [payload] });
      t.ok(await waitFor(async () => (await receivedUdp(env)).includes(payload), DELIVERY_MS), `v${family}: delivered`);
      const d = (await env.server.call('stats')).lastDesc as {
        caplen: number;
        origlen: number;
        flags: number;
        firstByte: number;
        ifindex: number;
        hook: number;
      };
      const iplen = (family === 4 ? 20 : 40) + 8 + payload.length;
      t.equal(d.caplen, iplen, `v${family}: caplen is the whole IP packet`);
      t.equal(d.origlen, iplen, `v${family}: origlen equals caplen when not truncated`);
      t.equal(d.flags & FLAG_TRUNCATED, 0, `v${family}: not truncated`);
      t.equal(d.flags & FLAG_IPV6, family === 6 ? FLAG_IPV6 : 0, `v${family}: IPv6 flag`);
      t.equal(d.firstByte >> 4, family, `v${family}: offset points at the IP header`);
      t.equal(d.ifindex, ifindex, `v${family}: input interface index`);
      t.equal(d.hook, 1, `v${family}: queued from NF_INET_LOCAL_IN`);
    }
  });

  await t.test('a callback that throws or does not answer fails open', async (t) => {
    const before = (await env.server.call('stats')).stats;
    // Separate sends: each lands in its own batch at this rate, so the
    // THROWME batch cannot take the NOANSWER one down with it.
    await env.client.call('sendUdp', { family: 4, to: env.pair.serverV4, port: SIP_PORT, payloads: ['fo-NOANSWER'] });
    t.ok(await waitFor(async () => (await receivedUdp(env)).includes('fo-NOANSWER'), DELIVERY_MS), 'unanswered packet accepted');
    await env.client.call('sendUdp', { family: 4, to: env.pair.serverV4, port: SIP_PORT, payloads: ['fo-THROWME'] });
    t.ok(await waitFor(async () => (await receivedUdp(env)).includes('fo-THROWME'), DELIVERY_MS), 'packet of a throwing batch accepted');
    const s = await env.server.call('stats');
    t.equal(s.stats.jsErrors - before.jsErrors, 1, 'the throw is counted');
    t.equal(s.stats.jsUnanswered - before.jsUnanswered, 2, 'both packets counted as unanswered');
    t.equal(s.lastError?.message, 'THROWME seen', 'lastError keeps the exception');
    // The queue still works after the exception.
    await env.client.call('sendUdp', { family: 4, to: env.pair.serverV4, port: SIP_PORT, payloads: ['fo-DROPME', 'fo-after'] });
    t.ok(await waitFor(async () => (await receivedUdp(env)).includes('fo-after'), DELIVERY_MS), 'later packets flow');
    t.notOk((await receivedUdp(env)).includes('fo-DROPME'), 'later drops still work');
  });

  const k = env.kernelQueue();
  t.equal(k?.total, 0, 'nothing left waiting in the kernel queue');
});
