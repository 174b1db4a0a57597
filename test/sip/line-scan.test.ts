// findLineEnd reads four bytes at a time; these check it against a plain
// byte loop at every alignment and length, that bytes outside [p, lim)
// never change its answer (the parser's promise, properties.test.ts, rests
// on it), and that the views it reads through follow the buffer given.

import t from 'tap';
import fc from 'fast-check';
import { findLineEnd, LONE_CR, wordBase, wordsOf } from '../../src/sip/line-scan.js';
import { checkProperty } from '../packet/packet-builders.js';

const LIMITS = { numRuns: 5000, interruptAfterTimeLimit: 10000 } as const;
const CR = 0x0d;
const LF = 0x0a;

/** The reference: [offset of the LF or -1, lone CR seen]. */
function naive(buf: Uint8Array, p: number, lim: number, crs: boolean): [number, number] {
  let lone = 0;
  for (let q = p; q < lim; q++) {
    const c = buf[q];
    if (c === LF) return [q, lone];
    if (crs && c === CR) {
      if (q + 1 >= lim) return [-1, 0];
      if (buf[q + 1] === LF) return [q + 1, lone];
      lone = 1;
    }
  }
  return [-1, 0];
}

function scan(buf: Buffer, p: number, lim: number, crs: boolean): [number, number] {
  const q = findLineEnd(buf, wordsOf(buf), wordBase(buf), p, lim, crs);
  return [q, q < 0 ? 0 : LONE_CR[0]!];
}

const same = (a: [number, number], b: [number, number]): boolean => a[0] === b[0] && a[1] === b[1];

t.test('agrees with a byte loop at every offset, length and position of a control byte', async (t) => {
  // Two special bytes in a run of 'a' (NUL and HTAB must not stop it; CR,
  // LF and CRLF must), in a slab, at each of the four offsets a Buffer can
  // have against a word boundary.
  const slab = Buffer.alloc(48, 0x61);
  let checked = 0;
  const pairs: Array<[number, number]> = [[LF, -1], [CR, -1], [CR, LF], [CR, CR], [0x00, LF], [0x09, CR], [CR, 0x61]];
  for (let off = 0; off < 4; off++) {
    const buf = slab.subarray(off, off + 24);
    for (const [x, y] of pairs) {
      for (let at = 0; at < buf.length; at++) {
        buf.fill(0x61);
        buf[at] = x;
        if (y >= 0 && at + 1 < buf.length) buf[at + 1] = y;
        for (let p = 0; p <= buf.length; p++) {
          for (let lim = p; lim <= buf.length; lim++) {
            for (const crs of [true, false]) {
              const got = scan(buf, p, lim, crs);
              const want = naive(buf, p, lim, crs);
              if (!same(got, want)) {
                t.fail(`offset ${off}, bytes ${x},${y} at ${at}, [${p}, ${lim}), crs ${crs}: ${got} != ${want}`);
                return;
              }
              checked++;
            }
          }
        }
      }
    }
  }
  t.pass(`${checked} ranges agree with a byte loop`);
});

t.test('random bytes: same as a byte loop, and what lies outside [p, lim) does not count', async (t) => {
  const byte = fc.oneof(fc.constantFrom(CR, LF, 0x00, 0x09, 0x0b, 0x0c, 0x0e, 0x80, 0x8a, 0x8d, 0xff, 0x61), fc.integer({ min: 0, max: 255 }));
  checkProperty(t, 'no counterexample',
    fc.property(
      fc.array(byte, { maxLength: 120 }), fc.nat(), fc.nat(), fc.nat({ max: 7 }), fc.constantFrom(CR, LF, 0x61), fc.boolean(),
      (arr, a, b, pad, noise, crs) => {
        const bytes = Uint8Array.from(arr);
        const n = bytes.length;
        const p = n === 0 ? 0 : a % (n + 1);
        const lim = p + (n === 0 ? 0 : b % (n - p + 1));
        // The same bytes at another alignment, between bytes that would
        // stop the scan if it read them.
        const inside = Buffer.alloc(pad + n + 8, noise);
        Buffer.from(bytes).copy(inside, pad);
        const exact = Buffer.from(bytes.subarray(p, lim));
        const want = naive(bytes, p, lim, crs);
        const shifted = scan(inside, pad + p, pad + lim, crs);
        const alone = scan(exact, 0, exact.length, crs);
        const back = (r: [number, number], by: number): [number, number] => [r[0] < 0 ? -1 : r[0] + by, r[1]];
        return same(back(shifted, -pad), want) && same(back(alone, p), want);
      },
    ),
    LIMITS,
  );
});

t.test('a long line of lone CRs, NULs and HTABs: its LF is found, the lone CR reported', async (t) => {
  // After the first lone CR the scan looks for the LF only (what that
  // saves is measured by bench/parser-bench.ts, hostile lines).
  const line = Buffer.from('X: ' + 'a\r'.repeat(3000) + '\x00\t'.repeat(1000) + '\r\n', 'latin1');
  t.same(scan(line, 0, line.length, true), [line.length - 1, 1], 'the LF, with the lone CR reported');
  t.same(scan(line, 0, line.length, false), [line.length - 1, 0], 'without crs, CRs are bytes');
  t.same(scan(line, 0, line.length - 1, true), [-1, 0], 'a CR at lim - 1 waits for its LF');
});

t.test('the view follows the buffer: Buffers of one ArrayBuffer, of others, and of a SharedArrayBuffer', async (t) => {
  const slab = Buffer.from('aaaa\r\nbbbb\ncccc\r\n', 'latin1');
  const one = slab.subarray(0, 6);
  const two = slab.subarray(6, 11);
  const other = Buffer.alloc(4); // not from the pool slab `slab` came from
  other.write('zz\r\n', 'latin1');
  const sab = new SharedArrayBuffer(16);
  const shared = Buffer.from(sab, 3, 8);
  shared.write('q\rq\nqqqq', 'latin1');
  // Alternate between them: each answer must be its own buffer's.
  for (let round = 0; round < 3; round++) {
    t.same(scan(one, 0, one.length, true), [5, 0], `round ${round}: first subarray`);
    t.same(scan(two, 0, two.length, true), [4, 0], `round ${round}: second subarray of the same ArrayBuffer`);
    t.same(scan(other, 0, other.length, true), [3, 0], `round ${round}: another ArrayBuffer`);
    t.same(scan(shared, 0, shared.length, true), [3, 1], `round ${round}: a SharedArrayBuffer at offset 3`);
    t.equal(wordBase(shared), 3, 'its offset');
  }
  t.equal(wordsOf(one), wordsOf(two), 'one view per ArrayBuffer');
  t.not(wordsOf(one), wordsOf(other), 'and another for another');
});
