// The byte matchers the engine uses on User-Agents and hostnames, checked on
// examples and against a string-based reference on random input.

import t from 'tap';
import fc from 'fast-check';
import {
  endsWithIgnoreCase, equalsIgnoreCase, indexOfIgnoreCase, lowerBytes, startsWithIgnoreCase,
} from '../../src/sip/bytes.js';
import { checkProperty } from '../packet/packet-builders.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

t.test('lowerBytes', async (t) => {
  t.same([...lowerBytes('Friendly-Scanner')], [...b('friendly-scanner')]);
  t.same([...lowerBytes('SIPVICIOUS [@]^_`{')], [...b('sipvicious [@]^_`{')], 'only A-Z change');
  t.same([...lowerBytes('Ärger')], [0xc3, 0x84, 0x72, 0x67, 0x65, 0x72], 'UTF-8, non-ASCII kept');
  t.equal(lowerBytes('').length, 0);
});

t.test('equalsIgnoreCase / startsWithIgnoreCase / endsWithIgnoreCase', async (t) => {
  const buf = b('xxPBX.Example.COMyy');
  const host = lowerBytes('pbx.example.com');
  t.equal(equalsIgnoreCase(buf, 2, 17, host), true);
  t.equal(equalsIgnoreCase(buf, 2, 16, host), false, 'shorter range');
  t.equal(equalsIgnoreCase(buf, 1, 17, host), false, 'longer range');
  t.equal(equalsIgnoreCase(b('pbx.example.con'), 0, 15, host), false);
  t.equal(equalsIgnoreCase(buf, 0, 0, lowerBytes('')), true);
  t.equal(startsWithIgnoreCase(buf, 2, 17, lowerBytes('PBX.')), true);
  t.equal(startsWithIgnoreCase(buf, 2, 17, lowerBytes('pbx.example.comy')), false, 'needle longer than the range');
  t.equal(startsWithIgnoreCase(buf, 3, 17, lowerBytes('pbx')), false);
  t.equal(endsWithIgnoreCase(buf, 2, 17, lowerBytes('.example.com')), true);
  t.equal(endsWithIgnoreCase(buf, 2, 18, lowerBytes('.example.com')), false);
  // Bytes outside A-Z/a-z compare exactly: '@' (0x40) is not '`' (0x60), '[' is not '{'.
  t.equal(equalsIgnoreCase(b('@['), 0, 2, lowerBytes('`{')), false);
  for (const [s, e] of [[-1, 3], [0, 100], [5, 2], [NaN, 3]]) {
    t.equal(equalsIgnoreCase(buf, s!, e!, host), false, `range ${s}..${e}`);
    t.equal(startsWithIgnoreCase(buf, s!, e!, lowerBytes('x')), false);
    t.equal(endsWithIgnoreCase(buf, s!, e!, lowerBytes('x')), false);
  }
});

t.test('indexOfIgnoreCase', async (t) => {
  const ua = b('User-Agent: Friendly-SCANNER 1.0');
  const needle = lowerBytes('friendly-scanner');
  t.equal(indexOfIgnoreCase(ua, 0, ua.length, needle), 12);
  t.equal(indexOfIgnoreCase(ua, 12, 28, needle), 12, 'exactly the range');
  t.equal(indexOfIgnoreCase(ua, 12, 27, needle), -1, 'the range ends one byte early');
  t.equal(indexOfIgnoreCase(ua, 13, ua.length, needle), -1, 'the range starts one byte late');
  t.equal(indexOfIgnoreCase(b('aaab'), 0, 4, lowerBytes('aab')), 1, 'a partial match before the real one');
  t.equal(indexOfIgnoreCase(b('sipvicious'), 0, 10, lowerBytes('VICIOUS'.toLowerCase())), 3);
  t.equal(indexOfIgnoreCase(b('x1.0.2y'), 0, 7, lowerBytes('1.0')), 1, 'a needle starting with a digit');
  t.equal(indexOfIgnoreCase(b('abc'), 1, 3, lowerBytes('')), 1, 'an empty needle is found at start');
  t.equal(indexOfIgnoreCase(b('abc'), 0, 3, lowerBytes('abcd')), -1);
  t.equal(indexOfIgnoreCase(b('abc'), -1, 3, lowerBytes('a')), -1, 'invalid range');
  t.equal(indexOfIgnoreCase(b('abc'), 0, 4, lowerBytes('a')), -1, 'invalid range');
});

t.test('agrees with a string-based reference on random input', async (t) => {
  const alphabet = fc.constantFrom(...'aAbBzZ-.@`[{ 0\xc4\xe4'.split(''));
  const text = fc.array(alphabet, { maxLength: 40 }).map((a) => a.join(''));
  checkProperty(t, 'no counterexample',
    fc.property(text, text, fc.nat(), fc.nat(), (hay, pin, i, j) => {
      const buf = b(hay);
      const start = hay.length === 0 ? 0 : i % (hay.length + 1);
      const end = start + (j % (hay.length - start + 1));
      const needle = lowerBytes(pin);
      // ASCII-only folding, as the matchers do it.
      const fold = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
      const h = fold(hay.slice(start, end));
      const n = Buffer.from(needle).toString('latin1');
      const want = pin.split('').every((c) => c.charCodeAt(0) < 0x80) ? h.indexOf(n) : -2;
      if (want === -2) return; // UTF-8 needle bytes vs latin1 haystack: not comparable by strings
      const got = indexOfIgnoreCase(buf, start, end, needle);
      if (got !== (want < 0 ? -1 : start + want)) throw new Error(`indexOf ${got} want ${want}`);
      if (equalsIgnoreCase(buf, start, end, needle) !== (h === n)) throw new Error('equals');
      if (startsWithIgnoreCase(buf, start, end, needle) !== h.startsWith(n)) throw new Error('startsWith');
      if (endsWithIgnoreCase(buf, start, end, needle) !== h.endsWith(n)) throw new Error('endsWith');
    }),
    { numRuns: 3000, interruptAfterTimeLimit: 10000 },
  );
});
