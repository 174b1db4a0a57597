// Bursts: 2000 packets come in batches of more than one on average, every
// one of them gets its verdict (delivered, nothing left in the kernel queue),
// and a receive buffer overflow (ENOBUFS) is counted and survived.

import t from 'tap';
import { setupQueueEnv, SIP_PORT, waitFor, type QueueEnv, type Reply } from './queue-fixture.js';

const BURST = 2000;
const DELIVERY_MS = 30_000;

async function stats(env: QueueEnv): Promise<Reply> {
  return (await env.server.call('stats')).stats as Reply;
}

async function receivedWith(env: QueueEnv, prefix: string): Promise<string[]> {
  return ((await env.server.call('received')).udp as string[]).filter((p) => p.startsWith(prefix));
}

function expected(prefix: string): string[] {
  return Array.from({ length: BURST }, (_, i) => `${prefix}-${i}`);
}

t.test(`a burst of ${BURST} packets`, async (t) => {
  const queue = 140;
  const env = await setupQueueEnv(t, queue);
  t.equal((await env.server.call('open', { opts: { queueNum: queue } })).ok, true, 'queue opens');
  await env.server.call('listen', { proto: 'udp4', port: SIP_PORT });
  const before = await stats(env);
  const sent = await env.client.call('sendUdp', { family: 4, to: env.pair.serverV4, port: SIP_PORT, count: BURST, prefix: 'burst' });
  t.equal(sent.sent, BURST, 'all sent');
  t.ok(await waitFor(async () => (await receivedWith(env, 'burst-')).length >= BURST, DELIVERY_MS), 'all delivered');
  const got = await receivedWith(env, 'burst-');
  t.same([...new Set(got)].sort(), expected('burst').sort(), 'each packet exactly once');

  const s = await stats(env);
  const packets = s.packets - before.packets;
  const batches = s.batches - before.batches;
  const sends = s.verdictSends - before.verdictSends;
  t.equal(packets, BURST, 'the queue saw every packet');
  t.equal(s.accepted - before.accepted, BURST, 'and accepted every one');
  t.equal(s.jsUnanswered + s.failOpenOther + s.sendErrors + s.verdictErrors + s.parseErrors, 0, 'no fail-open, no error');
  const mean = packets / batches;
  t.comment(`mean batch ${mean.toFixed(1)} packets (${batches} batches), ${(sends / packets).toFixed(3)} verdict sendto() per packet, ${s.verdictMessages - before.verdictMessages} verdict messages`);
  t.ok(mean > 1, `batches hold more than one packet on average (${mean.toFixed(1)})`);
  t.equal(sends, batches, 'one verdict send per batch');

  const k = env.kernelQueue();
  t.ok(k !== undefined, 'queue bound in the kernel');
  t.equal(k?.total, 0, 'nothing stuck in the kernel queue');
  t.equal(k?.dropped, 0, 'kernel dropped nothing (queue full)');
  t.equal(k?.userDropped, 0, 'kernel dropped nothing (socket full)');
  t.equal(k?.idSequence, s.packets, 'kernel queued exactly what we received');
});

t.test('receive buffer overflow: ENOBUFS counted, queue keeps serving', async (t) => {
  const queue = 141;
  const env = await setupQueueEnv(t, queue);
  // The smallest buffer the options allow, and a callback that blocks for
  // 500 ms on SLOWME: the burst arriving meanwhile cannot all fit.
  const opened = await env.server.call('open', { opts: { queueNum: queue, rcvBufBytes: 64 * 1024 } });
  t.equal(opened.ok, true, 'queue opens');
  await env.server.call('listen', { proto: 'udp4', port: SIP_PORT });
  const to = env.pair.serverV4;
  await env.client.call('sendUdp', { family: 4, to, port: SIP_PORT, payloads: ['SLOWME'] });
  await env.client.call('sendUdp', { family: 4, to, port: SIP_PORT, count: BURST, prefix: 'ovf' });
  // failOpen: what the kernel could not queue to us, it accepted itself.
  t.ok(await waitFor(async () => (await receivedWith(env, 'ovf-')).length >= BURST, DELIVERY_MS), 'every packet delivered');
  const s = await stats(env);
  t.ok(s.enobufs >= 1, `ENOBUFS counted (${s.enobufs})`);
  t.ok(s.packets < BURST + 1, `some packets bypassed the full socket (${s.packets} of ${BURST + 1} reached us)`);

  // libuv stops a poll handle on EPOLLERR, which a netlink overrun raises:
  // the queue must still be read afterwards.
  await env.client.call('sendUdp', { family: 4, to, port: SIP_PORT, payloads: ['ovf-after-DROPME', 'ovf-after-end'] });
  t.ok(await waitFor(async () => (await receivedWith(env, 'ovf-after-end')).length === 1, 5000), 'later packets still served');
  t.equal((await receivedWith(env, 'ovf-after-DROPME')).length, 0, 'and judged');
  const k = env.kernelQueue();
  t.equal(k?.total, 0, 'nothing stuck in the kernel queue');
});
