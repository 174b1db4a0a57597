// Finding the end of a header line four bytes at a time.
//
// A header value is read to the LF that ends its line, checking on the way
// (when the caller asks) that every CR is followed by an LF: parse-sip.ts
// explains why a lone CR is refused. Two memchr calls per line
// (Buffer.indexOf for the LF, then for the CRs) cost about 25 ns each
// here, most of it the call into C++; a byte loop in JS costs about 1.9 ns
// a byte. Reading four bytes at a time through a DataView (V8 compiles
// getInt32 to one unaligned load) and testing them at once for an LF or a
// CR finds the line end with no call at all: on a 544-byte REGISTER, about
// 290 ns where the two memchr per line took 660 (bench/parser-bench.ts
// measures the whole parser).
//
// The word test is "determine if a word has a zero byte" from Bit
// Twiddling Hacks (Sean Anderson, after Alan Mycroft), on w ^ 0x0a0a0a0a
// for LF and w ^ 0x0d0d0d0d for CR: (x - 0x01010101) & ~x & 0x80808080 is
// non-zero exactly when x has a zero byte. A borrow can mark a byte above a
// true one, never a word without one, so the lowest marked byte (the first
// in memory: the words are read little-endian) is the true first. Other
// control bytes (HTAB, NUL) do not stop the scan, and after a lone CR only
// LFs do: the line is refused anyway, so a line of lone CRs or NULs costs
// what a line of letters costs, about 0.8 ns a byte, at most MAX_HEADER_BYTES.
//
// Words are read only while all four bytes lie in [p, lim); the last one to
// three bytes are read one at a time. Nothing outside [p, lim) is read.

// Imported bindings are live: V8 re-reads them (with a TDZ check) at every
// use, even in a hot loop. Module-local consts are folded into the code.
import * as cc from './char-class.js';
const { CR, LF } = cc;

const ONES = 0x01010101;
const LFS = 0x0a0a0a0a;
const CRS = 0x0d0d0d0d;
const HIGH_BITS = 0x80808080 | 0;

/**
 * Offset in its word of the lowest marked byte of m (m has one). Every
 * sum and difference here is truncated with `| 0`: the bits past 32 are not
 * wanted, and V8, told so, keeps int32 arithmetic where an overflow would
 * deoptimize the parser into float code.
 */
function firstMarked(m: number): number {
  return (31 - Math.clz32(m ^ ((m - 1) | 0))) >>> 3;
}

const views = new WeakMap<ArrayBufferLike, DataView<ArrayBufferLike>>();
let lastBuf: Uint8Array | null = null;
let lastBase = 0;
let lastView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

/**
 * A DataView over the whole of buf's ArrayBuffer; wordBase(buf) then is
 * buf.byteOffset. Views are made once per ArrayBuffer and held weakly, so
 * a parse allocates nothing once the queue's batch buffer (which holds
 * every packet of every batch) and Node's pool slabs (TCP reassembly) have
 * been seen. The last Buffer and its offset are kept too: V8 11.3 (Node 20)
 * does not inline the `buffer` and `byteOffset` getters, about 25 ns a
 * read here, while comparing the Buffer costs nothing; alternating between
 * the batch buffer and a TCP flow's pending bytes pays those reads and a
 * WeakMap lookup, about 80 ns.
 */
export function wordsOf(buf: Uint8Array): DataView<ArrayBufferLike> {
  if (buf === lastBuf) return lastView;
  const ab = buf.buffer;
  let view = views.get(ab);
  if (view === undefined) {
    view = new DataView(ab);
    views.set(ab, view);
  }
  lastBuf = buf;
  lastBase = buf.byteOffset;
  lastView = view;
  return view;
}

/** buf.byteOffset, for the buf of the last wordsOf(buf) call. */
export function wordBase(buf: Uint8Array): number {
  return buf === lastBuf ? lastBase : buf.byteOffset;
}

/** Out-parameter of findLineEnd: 1 when a CR not followed by an LF came before the LF it returned. */
export const LONE_CR = new Uint8Array(1);

/**
 * The offset of the first LF in buf[p, lim), or -1 if there is none (a CR
 * at lim - 1, whose LF may be on its way, also gives -1). With `crs`, CRs
 * are checked on the way and LONE_CR[0] tells whether one was not followed
 * by an LF; without, CRs are bytes like any other. `words` is wordsOf(buf);
 * `base` is wordBase(buf).
 */
export function findLineEnd(buf: Uint8Array, words: DataView<ArrayBufferLike>, base: number, p: number, lim: number, crs: boolean): number {
  let lone = 0;
  let o = base + p;
  const lastWord = base + lim - 4;
  for (;;) {
    let q = -1;
    while (o <= lastWord) {
      const w = words.getInt32(o, true);
      // One test first for any byte 0x08-0x0f (OR 0x07 makes each 0x0f),
      // which takes in CR and LF, then the exact one only on a hit: 3-5%
      // of a whole parse, same-process A/B.
      const f = (w | 0x07070707) ^ 0x0f0f0f0f;
      if ((((f - ONES) | 0) & ~f & HIGH_BITS) !== 0) {
        const x = w ^ LFS;
        let m = ((x - ONES) | 0) & ~x;
        if (crs) {
          const y = w ^ CRS;
          m |= ((y - ONES) | 0) & ~y;
        }
        m &= HIGH_BITS;
        if (m !== 0) {
          q = o - base + firstMarked(m);
          break;
        }
      }
      o += 4;
    }
    if (q < 0) {
      // The bytes after the last whole word.
      q = o - base;
      while (q < lim && buf[q] !== LF && (!crs || buf[q] !== CR)) q++;
      if (q >= lim) return -1;
    }
    if (buf[q] === LF) {
      LONE_CR[0] = lone;
      return q;
    }
    // A CR (only looked for with `crs`).
    if (q + 1 >= lim) return -1;
    if (buf[q + 1] === LF) {
      LONE_CR[0] = lone;
      return q + 1;
    }
    // A lone CR: the line is refused, so from here on only its LF counts.
    lone = 1;
    crs = false;
    o = base + q + 1;
  }
}
