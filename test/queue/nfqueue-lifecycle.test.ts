// Opening, closing and reopening queues: a queue bound by another consumer
// gives a clear error; close() unbinds and a new open of the same number
// works; close() from inside the callback; a worker that exits without
// close() releases its queue; copyRange truncation is reported.

import t from 'tap';
import { FLAG_TRUNCATED } from '../../src/queue/nfqueue.js';
import { Agent, setupQueueEnv, SIP_PORT, waitFor, type QueueEnv } from './queue-fixture.js';

const QUEUE = 150;
const WORKER_QUEUE = 151;
const DELIVERY_MS = 5000;

async function delivered(env: QueueEnv, payload: string): Promise<boolean> {
  return waitFor(async () => ((await env.server.call('received')).udp as string[]).includes(payload), DELIVERY_MS);
}

async function send(env: QueueEnv, payloads: string[]): Promise<void> {
  await env.client.call('sendUdp', { family: 4, to: env.pair.serverV4, port: SIP_PORT, payloads });
}

t.test('queue lifecycle', async (t) => {
  const env = await setupQueueEnv(t, QUEUE);
  t.equal((await env.server.call('open', { opts: { queueNum: QUEUE } })).ok, true, 'queue opens');
  await env.server.call('listen', { proto: 'udp4', port: SIP_PORT });
  const owner = env.kernelQueue()?.portid;
  t.ok(owner !== undefined && owner !== 0, 'kernel shows the queue bound');

  await t.test('a queue bound by another process gives a clear error', async (t) => {
    const other = new Agent(env.pair, env.pair.server);
    t.teardown(() => other.stop());
    const r = await other.call('open', { opts: { queueNum: QUEUE } });
    t.equal(r.ok, false, 'second open fails');
    t.equal(r.error.code, 'SIPWALL_ERR_QUEUE', 'with the queue error code');
    t.equal(r.error.name, 'QueueError', 'as a QueueError');
    t.match(r.error.message, /NFQUEUE 150 is already bound by another socket/, 'saying the queue is taken');
    t.match(r.error.message, /EPERM|EBUSY/, 'and what the kernel answered');
    const same = await env.server.call('open', { name: 'dup', opts: { queueNum: QUEUE } });
    t.equal(same.error?.code, 'SIPWALL_ERR_QUEUE', 'a second socket in the same process too');
    t.equal(env.kernelQueue()?.portid, owner, 'the first owner keeps the queue');
    await send(env, ['still-served']);
    t.ok(await delivered(env, 'still-served'), 'and keeps serving it');
  });

  await t.test('close() unbinds, a new open of the same queue works', async (t) => {
    await env.server.call('close');
    t.equal(env.kernelQueue(), undefined, 'kernel no longer lists the queue');
    const s = await env.server.call('stats');
    t.equal(s.closed, true, 'closed');
    t.ok(s.stats.packets >= 1, 'counters still readable after close');
    const after = await env.server.call('hotSetRaw', { addr: 'bytes4', family: 4, verdict: 1, ttlMs: 1000 });
    t.equal(after.error?.code, 'SIPWALL_ERR_QUEUE', 'hot table refused after close');
    t.match(after.error?.message, /closed/, 'because the queue is closed');

    const again = await env.server.call('open', { opts: { queueNum: QUEUE, copyRange: 64 } });
    t.equal(again.ok, true, 'reopened');
    t.not(env.kernelQueue()?.portid, undefined, 'kernel lists it again');
    const payload = `DESCME-${'t'.repeat(200)}`;
    await send(env, [payload]);
    t.ok(await delivered(env, payload), 'packets flow through the new queue');
    const r = await env.server.call('stats');
    t.equal(r.lastDesc.caplen, 64, 'copyRange 64: 64 bytes captured');
    t.equal(r.lastDesc.origlen, 20 + 8 + payload.length, 'origlen is the whole packet');
    t.equal(r.lastDesc.flags & FLAG_TRUNCATED, FLAG_TRUNCATED, 'flagged truncated');
    t.equal(r.stats.truncated, 1, 'counted');
  });

  await t.test('close() from inside the callback', async (t) => {
    await send(env, ['CLOSEME-now']);
    t.ok(await delivered(env, 'CLOSEME-now'), 'the packet of that batch still gets its verdict');
    t.ok(await waitFor(async () => env.kernelQueue() === undefined, DELIVERY_MS), 'then the queue is unbound');
    t.equal((await env.server.call('stats')).closed, true, 'and reports closed');
    t.equal((await env.server.call('open', { opts: { queueNum: QUEUE } })).ok, true, 'and can be opened again');
  });

  await t.test('a batch buffer transferred away from the addon: the queue closes, nothing is written into it', async (t) => {
    t.equal((await env.server.call('stats')).closed, false, 'open');
    const errorsBefore = (await env.server.call('stats')).stats.jsErrors;
    await send(env, ['TRANSFERME-now']);
    t.ok(await delivered(env, 'TRANSFERME-now'), 'the packet of that batch still gets a verdict (fail open)');
    t.ok(await waitFor(async () => env.kernelQueue() === undefined, DELIVERY_MS), 'then the queue is unbound');
    const s = await env.server.call('stats');
    t.equal(s.closed, true, 'and reports closed');
    t.ok(s.stats.jsErrors > errorsBefore, 'counted as a callback error');
    t.match(s.lastError, { message: /transferred away/ }, 'and says why');
    t.equal((await env.server.call('open', { opts: { queueNum: QUEUE } })).ok, true, 'the agent is alive, and the queue can be opened again');
    await send(env, ['after-transfer']);
    t.ok(await delivered(env, 'after-transfer'), 'and serves packets');
  });

  await t.test('a worker exiting without close() releases its queue', async (t) => {
    t.equal((await env.server.call('workerOpen', { queueNum: WORKER_QUEUE })).msg, 'opened', 'opened in a worker');
    t.ok(env.kernelQueue(WORKER_QUEUE) !== undefined, 'bound');
    await env.server.call('workerTerminate');
    t.ok(await waitFor(async () => env.kernelQueue(WORKER_QUEUE) === undefined, DELIVERY_MS), 'unbound by the cleanup hook');
    const r = await env.server.call('open', { name: 'w', opts: { queueNum: WORKER_QUEUE } });
    t.equal(r.ok, true, 'the main thread can take it');
    await env.server.call('close', { name: 'w' });
  });
});
