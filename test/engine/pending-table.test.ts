// The table of requests awaiting the PBX's answer: matching, expiry, and a
// bounded ring whose oldest entries give their place up, chains kept intact.
import t from 'tap';
import { PENDING_CREDENTIALS, PendingTable } from '../../src/engine/pending-table.js';

t.test('an answer finds its request, from its source only, once when final', async (t) => {
  const p = new PendingTable(8, 32_000);
  p.put(0x1234, 7, 1000, PENDING_CREDENTIALS, 3, 11, 22);
  t.notOk(p.take(0x1234, 8, 1001, true), 'another source: no match');
  t.notOk(p.take(0x1235, 7, 1001, true), 'another transaction: no match');
  t.ok(p.take(0x1234, 7, 1001, false), 'a provisional answer matches');
  t.same([p.flagsOut, p.methodOut, p.userOut, p.callOut], [PENDING_CREDENTIALS, 3, 11, 22], 'and tells what the request was');
  t.ok(p.take(0x1234, 7, 1002, true), 'the final one too');
  t.notOk(p.take(0x1234, 7, 1003, true), 'which ends the transaction');
  p.put(0x99, 'v6-prefix-key', 2000, 0, 1, 0, 0);
  t.ok(p.take(0x99, 'v6-prefix-key', 2001, true), 'IPv6 keys (strings) match');
  p.put(0x55, 7, 3000, 0, 1, 0, 0);
  t.notOk(p.take(0x55, 7, 3000 + 32_000, true), 'forgotten after ttlMs');
  p.put(0x66, 7, 4000, 0, 1, 0, 0);
  p.put(0x66, 7, 30_000, 0, 1, 0, 0);
  t.ok(p.take(0x66, 7, 4000 + 40_000, true), 'a retransmission refreshes it');
});

t.test('bounded: the oldest transactions give way, and every other one still matches', async (t) => {
  const max = 1000;
  const p = new PendingTable(max, 1e12);
  // Keys that share buckets (same low bits) and negative ones: chains must survive unlinking from any place.
  const key = (i: number): number => ((i * 0x10000) ^ (i & 0x3ff) ^ (i % 3 === 0 ? 0x80000000 : 0)) | 0;
  const total = 5 * max + 123;
  for (let i = 0; i < total; i++) p.put(key(i), i, i, 0, 1, i, 0);
  t.equal(p.size, max, 'never more than max');
  let live = 0;
  let gone = 0;
  for (let i = 0; i < total; i++) {
    const found = p.take(key(i), i, total, false);
    if (i >= total - max) {
      if (found && p.userOut === i) live++;
    } else if (!found) gone++;
  }
  t.equal(live, max, 'the newest max transactions all match, with their own data');
  t.equal(gone, total - max, 'the older ones are gone');
});

t.test('transactions a client chose to share low bits do not share a chain', async (t) => {
  // The transaction number is an unkeyed hash of the client's Call-ID and
  // CSeq, so a client can pick thousands with the same low bits: indexed by
  // those bits, every put and take walked one chain of all of them.
  const p = new PendingTable(65_536, 32_000);
  for (let i = 0; i < 30_000; i++) p.put((i << 16) | 0x2a, i, 1000, 0, 1, 0, 0);
  t.ok(p.longestChain() <= 16, `longest chain ${p.longestChain()} of 30,000 (random spread: about 8)`);
  let found = 0;
  for (let i = 0; i < 30_000; i += 997) if (p.take((i << 16) | 0x2a, i, 1001, true)) found++;
  t.equal(found, 31, 'and each is found');
  t.equal(new PendingTable(8, 1).longestChain(), 0, 'an empty table has no chain');
});
