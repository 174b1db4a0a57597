import fc from 'fast-check';
import t from 'tap';
import { NeedleSet } from '../../src/engine/needle-set.js';
import { lowerBytes } from '../../src/sip/bytes.js';
import { checkProperty } from '../packet/packet-builders.js';

t.test('finds the same needle as a naive lower-case search, at the earliest position', async (t) => {
  const alphabet = fc.constantFrom(...'aAbBcC-x ');
  const word = fc.string({ unit: alphabet, minLength: 1, maxLength: 6 });
  checkProperty(t, 'no counterexample',
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
      // The earliest position; at a tie, the first needle in order.
      return set.find(Buffer.from(hay, 'latin1'), 0, hay.length) === best;
    }),
    { numRuns: 2000, interruptAfterTimeLimit: 10_000 },
  );
});

t.test('the earliest start wins over the earliest end; at one start, needle order', async (t) => {
  const buf = Buffer.from('xx ABCDEF yy');
  t.equal(new NeedleSet([lowerBytes('cd'), lowerBytes('abcdef')]).find(buf, 0, buf.length), 1, 'abcdef starts first, though cd ends first');
  t.equal(new NeedleSet([lowerBytes('abc'), lowerBytes('abcdef')]).find(buf, 0, buf.length), 0);
  t.equal(new NeedleSet([lowerBytes('abcdef'), lowerBytes('abc')]).find(buf, 0, buf.length), 0);
  t.equal(new NeedleSet([lowerBytes('bcdx'), lowerBytes('cde')]).find(buf, 0, buf.length), 1, 'a failed long match falls back to a shorter one');
  const ua = Buffer.from('Yealink SIP-T46S 66.86.0.15 sipsak');
  t.equal(new NeedleSet([lowerBytes('sipvicious'), lowerBytes('sip-scan'), lowerBytes('sipsak')]).find(ua, 0, ua.length), 2);
  const utf8 = Buffer.from('Téléphone Hacker');
  t.equal(new NeedleSet([lowerBytes('téléphone')]).find(utf8, 0, utf8.length), 0, 'non-ASCII bytes compare exactly');
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
