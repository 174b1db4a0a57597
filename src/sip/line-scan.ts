// Finding the end of a header line four bytes at a time.
//
// A header value is read to the LF that ends its line, checking on the way
// that every CR is followed by an LF (parse-sip.ts explains why a lone CR
// is refused). Two memchr calls per line (Buffer.indexOf for the LF, then
// for the CRs) cost about 25 ns each here, most of it the call into C++;
// a byte loop in JS costs about 1.9 ns a byte. Reading four bytes at a
// time through a DataView (V8 compiles getInt32 to one unaligned load) and
// testing them at once for "any byte below 0x0e" (which takes in CR, LF
// and the rarer HTAB and NUL) finds the first control byte with no call
// at all: on a 544-byte REGISTER, about 290 ns where the two memchr per
// line took 660 (bench/parser-bench.ts measures the whole parser).
//
// The word test is the classic "has a byte less than n" of Hacker's
// Delight §6-1: (w - 0x01010101*n) & ~w & 0x80808080 is non-zero exactly
// when some byte of w is below n (n <= 128). A borrow can mark a byte above
// a true one, never a word without one, so the lowest marked byte (the
// first in memory: the words are read little-endian) is the true first.
//
// Words are read only while all four bytes lie in [p, e); the last one to
// three bytes are read one at a time. Nothing outside [p, e) is read.

// Imported bindings are live: V8 re-reads them (with a TDZ check) at every
// use, even in a hot loop. Module-local consts are folded into the code.
import * as cc from './char-class.js';
const { CR, LF } = cc;

/** Bytes below this are the ones the scan stops at. */
const CONTROL_LIMIT = 0x0e;
const ONES_TIMES_LIMIT = 0x0e0e0e0e;
const HIGH_BITS = 0x80808080 | 0;

let lastBuf: Uint8Array | null = null;
let lastBase = 0;
let viewed: ArrayBufferLike | null = null;
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

/**
 * A DataView over the whole of buf's ArrayBuffer; wordBase(buf) then is
 * buf.byteOffset. One view is made per ArrayBuffer and kept until a buffer
 * of another one comes: the queue hands every packet of every batch in one
 * preallocated buffer, and small Buffers share Node's pool slab, so this
 * allocates almost never. Keeping it keeps that one ArrayBuffer alive,
 * which is the queue's own buffer on the packet path.
 *
 * The last Buffer and its offset are kept too: V8 (11.3, Node 20) does not
 * inline the `buffer` and `byteOffset` getters, about 25 ns a read here,
 * while comparing the Buffer costs nothing.
 */
export function wordsOf(buf: Uint8Array): DataView<ArrayBufferLike> {
  if (buf === lastBuf) return view;
  lastBuf = buf;
  lastBase = buf.byteOffset;
  const ab = buf.buffer;
  if (ab !== viewed) {
    viewed = ab;
    view = new DataView(ab);
  }
  return view;
}

/** buf.byteOffset, for the buf of the last wordsOf(buf) call. */
export function wordBase(buf: Uint8Array): number {
  return buf === lastBuf ? lastBase : buf.byteOffset;
}

/**
 * The offset of the first byte below 0x0e in buf[p, e), or e if none.
 * `words` is wordsOf(buf); `base` is buf.byteOffset.
 */
export function findControl(buf: Uint8Array, words: DataView<ArrayBufferLike>, base: number, p: number, e: number): number {
  let o = base + p;
  const lastWord = base + e - 4;
  while (o <= lastWord) {
    const w = words.getInt32(o, true);
    // `| 0`: the bits past 32 are not wanted, and V8, told so, keeps int32
    // arithmetic where an overflow would deoptimize into float code.
    const m = ((w - ONES_TIMES_LIMIT) | 0) & ~w & HIGH_BITS;
    // The lowest set bit of m, through m ^ (m - 1): the first marked byte.
    if (m !== 0) return o - base + ((31 - Math.clz32(m ^ ((m - 1) | 0))) >>> 3);
    o += 4;
  }
  p = o - base;
  while (p < e && buf[p]! >= CONTROL_LIMIT) p++;
  return p;
}

/**
 * The offset of the first LF in buf[p, lim), or of the first CR before it
 * that is not followed by an LF, or -1 if there is neither. A CR at
 * lim - 1, whose LF may be on its way, is not such a CR: -1.
 */
export function lineEnd(buf: Uint8Array, words: DataView<ArrayBufferLike>, base: number, p: number, lim: number): number {
  for (;;) {
    p = findControl(buf, words, base, p, lim);
    if (p >= lim) return -1;
    const c = buf[p]!;
    if (c === LF) return p;
    if (c === CR) {
      if (p + 1 >= lim) return -1;
      if (buf[p + 1] !== LF) return p;
    }
    p++;
  }
}
