// The hot-IP table: sources JavaScript has already judged are answered in C
// without a JavaScript call, until their entry expires; IPv4 entries match one
// address, IPv6 entries a whole /64; the table is bounded.

import t, { type Test } from 'tap';
import { setupQueueEnv, SIP_PORT, waitFor, type QueueEnv, type Reply } from './queue-fixture.js';

const QUEUE = 120;
const SMALL_QUEUE = 121;
const DELIVERY_MS = 5000;
const BANNED4 = '10.200.1.11';
const OTHER64_CLIENT = 'fd00:5157:2::1';

async function stats(env: QueueEnv, name = 'q'): Promise<Reply> {
  return (await env.server.call('stats', { name })).stats as Reply;
}

async function delivered(env: QueueEnv, payload: string): Promise<boolean> {
  return waitFor(async () => ((await env.server.call('received')).udp as string[]).includes(payload), DELIVERY_MS);
}

async function send(env: QueueEnv, family: 4 | 6, payloads: string[], srcAddr?: string): Promise<void> {
  const to = family === 4 ? env.pair.serverV4 : env.pair.serverV6;
  await env.client.call('sendUdp', { family, to, port: SIP_PORT, payloads, srcAddr });
}

/** Waits until the hot-table counter moved by n (the packets were answered). */
async function hotAnswered(env: QueueEnv, counter: string, base: number, n: number): Promise<boolean> {
  return waitFor(async () => (await stats(env))[counter] - base >= n, DELIVERY_MS);
}

t.test('hot-IP table in C', async (t) => {
  const env = await setupQueueEnv(t, QUEUE);
  env.pair.addAddress(env.pair.client, `${BANNED4}/24`);
  // A second /64 on the link, for a source outside the banned one.
  env.pair.addAddress(env.pair.client, `${OTHER64_CLIENT}/64`);
  env.pair.addAddress(env.pair.server, 'fd00:5157:2::2/64');
  t.equal((await env.server.call('open', { opts: { queueNum: QUEUE } })).ok, true, 'queue opens');
  await env.server.call('listen', { proto: 'udp6', port: SIP_PORT });

  await t.test('IPv4 drop entry: exact address, no JavaScript call, expires', async (t: Test) => {
    const ttlMs = 1500;
    const set = await env.server.call('hotSet', { addr: BANNED4, verdict: 1, ttlMs });
    const setAt = Date.now();
    t.equal(set.result, true, 'hotSet stores the entry');
    const before = await stats(env);
    await send(env, 4, ['h4-banned-1', 'h4-banned-2'], BANNED4);
    t.ok(await hotAnswered(env, 'hotDrop', before.hotDrop, 2), 'both packets dropped by the hot table');
    const mid = await stats(env);
    t.equal(mid.jsCalls, before.jsCalls, 'no JavaScript call for them');
    t.equal(mid.toJs, before.toJs, 'no packet handed to JavaScript');
    t.equal(mid.dropped - before.dropped, 2, 'counted as drops');
    await send(env, 4, ['h4-free']); // from 10.200.1.1: not in the table
    t.ok(await delivered(env, 'h4-free'), 'another IPv4 address is not affected');
    const got = (await env.server.call('received')).udp as string[];
    t.notOk(got.includes('h4-banned-1') || got.includes('h4-banned-2'), 'banned packets never delivered');
    t.equal((await stats(env)).toJs - mid.toJs, 1, 'the free packet went to JavaScript');

    // Expiry: past the TTL (plus a margin for scheduling), the source is
    // judged by JavaScript again.
    await new Promise((r) => setTimeout(r, Math.max(0, setAt + ttlMs + 300 - Date.now())));
    const late = await stats(env);
    await send(env, 4, ['h4-after-ttl'], BANNED4);
    t.ok(await delivered(env, 'h4-after-ttl'), 'delivered once the entry expired');
    const end = await stats(env);
    t.equal(end.toJs - late.toJs, 1, 'and seen by JavaScript');
    t.equal(end.hotDrop, late.hotDrop, 'no hot hit after expiry');
  });

  await t.test('IPv6 entry covers the /64', async (t: Test) => {
    // Set with another address of the client's /64: the key is the prefix.
    t.equal((await env.server.call('hotSet', { addr: 'fd00:5157:1::abcd', verdict: 1, ttlMs: 60_000 })).result, true, 'set');
    const before = await stats(env);
    await send(env, 6, ['h6-banned']); // from fd00:5157:1::1
    t.ok(await hotAnswered(env, 'hotDrop', before.hotDrop, 1), 'a different address of the same /64 is dropped');
    t.equal((await stats(env)).toJs, before.toJs, 'without JavaScript');
    await send(env, 6, ['h6-other-64'], OTHER64_CLIENT);
    t.ok(await delivered(env, 'h6-other-64'), 'a source in another /64 is delivered');
    t.notOk(((await env.server.call('received')).udp as string[]).includes('h6-banned'), 'the banned one never was');
    t.equal((await env.server.call('hotDelete', { addr: 'fd00:5157:1::ffff' })).result, true, 'hotDelete by any address of the /64');
    t.equal((await env.server.call('hotDelete', { addr: 'fd00:5157:1::ffff' })).result, false, 'a second delete finds nothing');
    await send(env, 6, ['h6-after-delete']);
    t.ok(await delivered(env, 'h6-after-delete'), 'delivered after delete');
  });

  await t.test('accept entry answers in C, hotClear empties the table', async (t: Test) => {
    t.equal((await env.server.call('hotSet', { addr: env.pair.clientV4, verdict: 0, ttlMs: 60_000 })).result, true, 'set');
    const before = await stats(env);
    // DROPME would be dropped by JavaScript: accepted here, JS never asked.
    await send(env, 4, ['hacc-DROPME']);
    t.ok(await delivered(env, 'hacc-DROPME'), 'accepted by the hot table');
    const mid = await stats(env);
    t.equal(mid.hotAccept - before.hotAccept, 1, 'hot accept counted');
    t.equal(mid.toJs, before.toJs, 'JavaScript not called');
    t.ok(mid.hotEntries >= 1, 'entries in use');
    await env.server.call('hotClear');
    t.equal((await stats(env)).hotEntries, 0, 'table empty after hotClear');
    await send(env, 4, ['hclr-DROPME', 'hclr-after']);
    t.ok(await delivered(env, 'hclr-after'), 'packets flow after clear');
    t.notOk(((await env.server.call('received')).udp as string[]).includes('hclr-DROPME'), 'JavaScript judges again');
  });

  await t.test('bounded size, expired entries reclaimed', async (t: Test) => {
    const opened = await env.server.call('open', { name: 'small', opts: { queueNum: SMALL_QUEUE, hotMaxEntries: 4 } });
    t.equal(opened.ok, true, 'small queue opens');
    const set = async (addr: string, ttlMs = 60_000, verdict = 1): Promise<boolean> =>
      (await env.server.call('hotSet', { name: 'small', addr, verdict, ttlMs })).result as boolean;
    for (let i = 1; i <= 4; i++) t.equal(await set(`192.0.2.${i}`), true, `entry ${i} stored`);
    t.equal(await set('192.0.2.5'), false, 'fifth refused: table full');
    t.equal(await set('192.0.2.1', 60_000, 0), true, 'an existing entry can still be updated');
    t.equal((await env.server.call('hotDelete', { name: 'small', addr: '192.0.2.2' })).result, true, 'delete');
    t.equal(await set('192.0.2.5'), true, 'room again after delete');
    t.equal((await stats(env, 'small')).hotEntries, 4, 'four entries');

    await env.server.call('hotClear', { name: 'small' });
    // A second to live: far above what the five calls take on a loaded machine, so "while they live" holds.
    for (let i = 1; i <= 4; i++) t.equal(await set(`198.51.100.${i}`, 1000), true, `short entry ${i}`);
    t.equal(await set('198.51.100.9'), false, 'full while they live');
    await new Promise((r) => setTimeout(r, 1200));
    for (let i = 1; i <= 4; i++) t.equal(await set(`203.0.113.${i}`), true, `expired slot reused for entry ${i}`);
    t.equal((await stats(env, 'small')).hotEntries, 4, 'still four entries');
  });

  await t.test('hotSet arguments are checked', async (t: Test) => {
    const bad: [string, Record<string, unknown>][] = [
      ['family 5', { addr: 'bytes4', family: 5, verdict: 1, ttlMs: 1000 }],
      ['IPv6 family with 4 bytes', { addr: 'bytes4', family: 6, verdict: 1, ttlMs: 1000 }],
      ['not bytes', { addr: '10.0.0.1', family: 4, verdict: 1, ttlMs: 1000 }],
      ['verdict 3', { addr: 'bytes4', family: 4, verdict: 3, ttlMs: 1000 }],
      ['ttl 0', { addr: 'bytes4', family: 4, verdict: 1, ttlMs: 0 }],
      ['ttl not an integer', { addr: 'bytes16', family: 6, verdict: 1, ttlMs: 1.5 }],
      ['ttl beyond u32', { addr: 'bytes4', family: 4, verdict: 1, ttlMs: 2 ** 32 }],
    ];
    for (const [what, args] of bad) {
      const r = await env.server.call('hotSetRaw', { name: 'small', ...args });
      t.equal(r.ok, false, `${what}: refused`);
      t.equal(r.error?.code, 'SIPWALL_ERR_QUEUE', `${what}: QueueError`);
    }
    const good = await env.server.call('hotSetRaw', { name: 'small', addr: 'bytes16', family: 6, verdict: 2, ttlMs: 1000 });
    t.equal(good.ok, true, 'a valid call passes the same checks');
  });
});
