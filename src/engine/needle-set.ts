// Finds which of many case-insensitive needles occurs in a byte range, in one
// pass: the needles are bucketed by their first (lowered) byte, so each byte
// of the haystack costs one table load, and a full comparison happens only
// where a needle could start. With the dozen scanner User-Agents this is one
// scan of the header instead of a dozen.

import { LOWER } from '../sip/char-class.js';

export class NeedleSet {
  /** For each lowered first byte, the indexes of the needles starting with it. */
  private readonly byFirst: Array<number[] | undefined> = new Array(256);
  private readonly needles: Uint8Array[];
  private readonly shortest: number;

  /** Needles must be non-empty and already lowered (lowerBytes). */
  constructor(needles: Uint8Array[]) {
    this.needles = needles;
    let shortest = Infinity;
    needles.forEach((n, i) => {
      if (n.length === 0) throw new RangeError('empty needle');
      shortest = Math.min(shortest, n.length);
      (this.byFirst[n[0]!] ??= []).push(i);
    });
    this.shortest = shortest;
  }

  get size(): number {
    return this.needles.length;
  }

  /** Index of the first needle (in needle order at the earliest position) found in buf[start, end), or -1. */
  find(buf: Uint8Array, start: number, end: number): number {
    if (start < 0 || end > buf.length || end - start < this.shortest) return -1;
    const last = end - this.shortest;
    for (let i = start; i <= last; i++) {
      const list = this.byFirst[LOWER[buf[i]!]!];
      if (list === undefined) continue;
      for (let k = 0; k < list.length; k++) {
        const n = this.needles[list[k]!]!;
        if (i + n.length > end) continue;
        let j = 1;
        while (j < n.length && LOWER[buf[i + j]!] === n[j]) j++;
        if (j === n.length) return list[k]!;
      }
    }
    return -1;
  }
}
