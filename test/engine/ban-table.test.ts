// BanTable's bound: beyond maxEntries the least recently banned record is
// forgotten. Checked against a plain model (an array in recency order) over
// random mixes of new bans, repeat bans, unbans, restores and a policy
// change, since eviction keeps an iterator from one eviction to the next.

import fc from 'fast-check';
import t from 'tap';
import { BanTable } from '../../src/engine/ban-table.js';
import { R_SCANNER_UA } from '../../src/engine/reasons.js';

const policy = (maxEntries: number) => ({ baseSeconds: 60, factor: 2, maxSeconds: 3600, forgetAfterSeconds: 86_400, maxEntries });

type Op = { op: 'ban' | 'unban' | 'restore'; key: number } | { op: 'max'; n: number };

t.test('the table holds exactly the most recently banned maxEntries sources, in recency order', async (t) => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('ban' as const), key: fc.integer({ min: 0, max: 40 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('unban' as const), key: fc.integer({ min: 0, max: 40 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('restore' as const), key: fc.integer({ min: 0, max: 40 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('max' as const), n: fc.integer({ min: 1, max: 12 }) }) },
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 300 }), (max0, ops) => {
      const table = new BanTable(policy(max0));
      let max = max0;
      let model: number[] = []; // oldest first
      const now = 1_000_000;
      for (const o of ops) {
        if (o.op === 'max') {
          // A reload changes the bound; it applies at the next ban, as in BanTable.put.
          max = o.n;
          table.policy = policy(max);
          continue;
        }
        model = model.filter((k) => k !== o.key);
        if (o.op === 'unban') {
          table.unban(o.key, now);
          continue;
        }
        if (o.op === 'ban') table.ban(o.key, now, R_SCANNER_UA, 'friendly-scanner');
        else table.restore(o.key, { until: now + 60_000, since: now, offences: 1, reason: R_SCANNER_UA, ruleId: 'x', hits: 0 });
        model.push(o.key);
        while (model.length > max) model.shift();
        const held = [...table.records(now)].map(([k]) => k);
        if (JSON.stringify(held) !== JSON.stringify(model)) throw new Error(`after ${JSON.stringify(o)}: table ${JSON.stringify(held)}, model ${JSON.stringify(model)}`);
      }
    }),
    { numRuns: 400, seed: 20261122 },
  );
  t.pass('table and model agree');
});

t.test('a flood of new sources past maxEntries keeps the newest, whatever the Map did with the ones it dropped', async (t) => {
  // Enough evictions that V8 rehashes the Map several times under the kept iterator.
  const table = new BanTable(policy(1000));
  const now = 1_000_000;
  for (let k = 0; k < 50_000; k++) table.ban(k, now, R_SCANNER_UA, 'friendly-scanner');
  t.equal(table.size, 1000);
  const held = [...table.records(now)].map(([k]) => k);
  t.same(held, Array.from({ length: 1000 }, (_, i) => 49_000 + i), 'the last 1000, oldest first');
  t.equal(table.peek(48_999), undefined, 'the one before them forgotten');
  t.equal(table.ban(49_500, now + 1000, R_SCANNER_UA, 'friendly-scanner'), 120, 'a repeat offender among them escalates');
});

t.test('eviction walks from the front once per fill, not once per ban, repeat bans mixed in', async (t) => {
  // A walk from the front steps over every record evicted since V8 last
  // rehashed the Map: one per ban made a flood cost 100-300 µs a ban.
  const table = new BanTable(policy(1000));
  const now = 1_000_000;
  for (let k = 0; k < 1000; k++) table.ban(k, now, R_SCANNER_UA, 'friendly-scanner');
  t.equal(table.evictionWalks, 0, 'nothing evicted while filling');
  for (let k = 1000; k < 20_000; k++) {
    table.ban(k, now, R_SCANNER_UA, 'friendly-scanner');
    if (k % 2 === 0) table.ban(k - 500, now, R_SCANNER_UA, 'friendly-scanner'); // a repeat offender: full, nothing evicted
  }
  t.equal(table.evictionWalks, 1, 'one walk for 19,000 evictions');
  table.unban(19_999, now);
  table.unban(19_998, now);
  table.ban(30_000, now, R_SCANNER_UA, 'friendly-scanner'); // below the bound: the iterator is let go
  table.ban(30_001, now, R_SCANNER_UA, 'friendly-scanner');
  t.equal(table.evictionWalks, 1, 'refilling evicts nothing');
  table.ban(30_002, now, R_SCANNER_UA, 'friendly-scanner');
  t.equal(table.evictionWalks, 2, 'the next eviction walks once more');
  t.equal(table.size, 1000, 'still bounded (the order is the model test\'s business)');
});
