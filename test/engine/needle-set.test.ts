import fc from 'fast-check';
import t from 'tap';
import { NeedleSet } from '../../src/engine/needle-set.js';
import { lowerBytes } from '../../src/sip/bytes.js';

t.test('finds the same needle as a naive lower-case search, at the earliest position', async (t) => {
  const alphabet = fc.constantFrom(...'aAbBcC-x ');
  const word = fc.string({ unit: alphabet, minLength: 1, maxLength: 6 });
  fc.assert(
    fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), fc.string({ unit: alphabet, maxLength: 40 }), (needles, hay) => {
      const set = new NeedleSet(needles.map((n) => lowerBytes(n)));
      const lower = hay.toLowerCase();
      let best = -1;
      let bestPos = Infinity;
      needles.forEach((n, i) => {
        const p = lower.indexOf(n.toLowerCase());
        if (p >= 0 && p < bestPos) {
          best = i;
          bestPos = p;
        }
      });
      const got = set.find(Buffer.from(hay, 'latin1'), 0, hay.length);
      // Same position; at a tie, the first needle in order.
      if (best === -1) return got === -1;
      return lower.indexOf(needles[got]!.toLowerCase()) === bestPos && (got === best || lower.startsWith(needles[got]!.toLowerCase(), bestPos));
    }),
    { numRuns: 2000, interruptAfterTimeLimit: 10_000 },
  );
});

t.test('respects the range and refuses bad ones', async (t) => {
  const set = new NeedleSet([lowerBytes('friendly-scanner'), lowerBytes('sipvicious')]);
  const buf = Buffer.from('xxFriendly-Scanner yy sipVicious');
  t.equal(set.find(buf, 0, buf.length), 0);
  t.equal(set.find(buf, 3, buf.length), 1, 'a match cut by the range start is not found');
  t.equal(set.find(buf, 0, 17), -1, 'nor one cut by the range end');
  t.equal(set.find(buf, -1, 5), -1);
  t.equal(set.find(buf, 0, buf.length + 1), -1);
  t.throws(() => new NeedleSet([new Uint8Array(0)]), RangeError);
  t.equal(new NeedleSet([]).find(buf, 0, buf.length), -1, 'an empty set finds nothing');
});
