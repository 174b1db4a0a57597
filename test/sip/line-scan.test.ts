// findControl reads four bytes at a time; these check it against a plain
// byte loop at every alignment and length, and that bytes outside [p, e)
// never change its answer (the parser's promise, properties.test.ts, rests
// on it).

import t from 'tap';
import fc from 'fast-check';
import { findControl, lineEnd, wordsOf } from '../../src/sip/line-scan.js';
import { checkProperty } from '../packet/packet-builders.js';

const LIMITS = { numRuns: 5000, interruptAfterTimeLimit: 10000 } as const;

function naive(buf: Uint8Array, p: number, e: number): number {
  while (p < e && buf[p]! >= 0x0e) p++;
  return p;
}

function find(buf: Buffer, p: number, e: number): number {
  return findControl(buf, wordsOf(buf), buf.byteOffset, p, e);
}

t.test('finds the first byte below 0x0e, at every offset and length', async (t) => {
  // One control byte (or none) in a run of 'a', inside a slab, at each of
  // the four offsets a Buffer can have against a word boundary.
  const slab = Buffer.alloc(64, 0x61);
  let checked = 0;
  for (let off = 0; off < 4; off++) {
    const buf = slab.subarray(off, off + 40);
    for (const ctl of [0x00, 0x09, 0x0a, 0x0d, -1]) {
      for (let at = 0; at < buf.length; at++) {
        buf.fill(0x61);
        if (ctl >= 0) buf[at] = ctl;
        for (let p = 0; p <= buf.length; p++) {
          for (let e = p; e <= buf.length; e++) {
            if (find(buf, p, e) !== naive(buf, p, e)) {
              t.fail(`offset ${off}, byte ${ctl} at ${at}, [${p}, ${e}): ${find(buf, p, e)} != ${naive(buf, p, e)}`);
              return;
            }
            checked++;
          }
        }
      }
    }
  }
  t.pass(`${checked} ranges agree with a byte loop`);
});

t.test('bytes 0x0e and up, 0x80 and up included, never stop it; borrows do not mislead it', async (t) => {
  // 0x0e is the first byte that does not stop it; a control byte right
  // below a high byte, or below 0x0e, must not mark the wrong byte.
  const cases: number[][] = [
    [0x0e, 0x0e, 0x0e, 0x0e, 0x0e], [0x80, 0xff, 0x8e, 0x0e], [0x61, 0x0a, 0x0e, 0x0d], [0x0d, 0x00, 0x0e, 0x61],
    [0x61, 0x61, 0x61, 0x0d, 0x0a], [0xff, 0xff, 0xff, 0xff, 0x09],
  ];
  for (const c of cases) {
    const buf = Buffer.from(c);
    t.equal(find(buf, 0, buf.length), naive(buf, 0, buf.length), JSON.stringify(c));
  }
});

t.test('random bytes: same as a byte loop, and what lies outside [p, e) does not count', async (t) => {
  checkProperty(t, 'no counterexample',
    fc.property(
      fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), fc.nat({ max: 7 }), fc.uint8Array({ minLength: 16, maxLength: 16 }),
      (bytes, a, b, pad, noise) => {
        const n = bytes.length;
        const p = n === 0 ? 0 : a % (n + 1);
        const e = p + (n === 0 ? 0 : b % (n - p + 1));
        // The same bytes at another alignment, between noise that is all
        // control bytes (or random): the answer must not move.
        const inside = Buffer.alloc(pad + n + 8, 0x0a);
        noise.forEach((x, i) => { if (i < pad) inside[i] = x; });
        Buffer.from(bytes).copy(inside, pad);
        const exact = Buffer.from(bytes.subarray(p, e));
        const want = naive(bytes, p, e);
        return find(inside, pad + p, pad + e) - pad === want && find(exact, 0, exact.length) + p === want;
      },
    ),
    LIMITS,
  );
});

t.test('lineEnd: the LF, or a CR that no LF follows; a CR at the end waits', async (t) => {
  const at = (s: string, lim = s.length): number => {
    const buf = Buffer.from(s, 'latin1');
    return lineEnd(buf, wordsOf(buf), buf.byteOffset, 0, lim);
  };
  t.equal(at('Via: SIP/2.0/UDP host\r\nTo: x'), 22, 'the LF of CRLF');
  t.equal(at('a\nb'), 1, 'a bare LF');
  t.equal(at('a\rb\r\n'), 1, 'a lone CR comes first');
  t.equal(at('a\tb\x00c\r\n'), 6, 'HTAB and NUL are passed over');
  t.equal(at('abc'), -1, 'no line end');
  t.equal(at('abc\r'), -1, 'a CR at the end: its LF may come');
  t.equal(at('abc\r\n', 4), -1, 'nor past lim');
  t.equal(at('abcdefgh\r\n', 9), -1, 'a CR at lim - 1 after whole words');
});
