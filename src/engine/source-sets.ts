// Small per-source sets of 32-bit values with an expiry each: the distinct
// users a source has tried (enumeration) and the calls it has open
// (call limit). Bounded twice: at most `maxSources` sources (an LRU, the
// least recently seen forgotten) and at most `perSource` values each (the
// oldest replaced). Struct of arrays, as in rate-table.ts: no object per
// source or per value.

import { LRUCache } from 'lru-cache';
import type { SourceKey } from './source-key.js';

export class SourceSets {
  private readonly lru: LRUCache<SourceKey, number>;
  private readonly free: number[] = [];
  private nextSlot = 0;
  private readonly values: Int32Array;
  /** Expiry (ms) per value; 0: empty. */
  private readonly until: Float64Array;

  constructor(
    readonly maxSources: number,
    readonly perSource: number,
  ) {
    this.lru = new LRUCache<SourceKey, number>({ max: maxSources, dispose: (slot) => this.free.push(slot) });
    // One slot more than the LRU holds, as in RateTable: a new source takes
    // the spare before set() evicts the oldest.
    this.values = new Int32Array((maxSources + 1) * perSource);
    this.until = new Float64Array((maxSources + 1) * perSource);
  }

  get size(): number {
    return this.lru.size;
  }

  private slotOf(key: SourceKey, create: boolean): number {
    const found = this.lru.get(key);
    if (found !== undefined || !create) return found ?? -1;
    const slot = this.free.pop() ?? this.nextSlot++;
    this.until.fill(0, slot * this.perSource, (slot + 1) * this.perSource);
    this.lru.set(key, slot);
    return slot;
  }

  /**
   * Adds (or refreshes) `value` for `key` until `until`; returns how many
   * live values the source has at `now`, this one included.
   */
  add(key: SourceKey, value: number, now: number, until: number): number {
    return this.addAt(this.slotOf(key, true), value, now, until);
  }

  private addAt(slot: number, value: number, now: number, until: number): number {
    const base = slot * this.perSource;
    const vals = this.values;
    const exp = this.until;
    let live = 0;
    let empty = -1;
    let first = -1; // the live value that expires first
    for (let i = base; i < base + this.perSource; i++) {
      const u = exp[i]!;
      if (u <= now) {
        if (empty < 0) empty = i;
        continue;
      }
      live++;
      if (vals[i] === (value | 0)) {
        exp[i] = until;
        return this.countFrom(base, now);
      }
      if (first < 0 || u < exp[first]!) first = i;
    }
    // Not there: an empty place, or (full) the value that expires first makes room.
    const at = empty >= 0 ? empty : first;
    if (empty < 0) live--;
    vals[at] = value | 0;
    exp[at] = until;
    return live + 1;
  }

  private countFrom(base: number, now: number): number {
    let n = 0;
    for (let i = base; i < base + this.perSource; i++) if (this.until[i]! > now) n++;
    return n;
  }

  /**
   * Adds `value` for `key` unless the source already has `max` other live
   * values; true if it is (now) there. One lookup for has + count + add.
   */
  admit(key: SourceKey, value: number, now: number, until: number, max: number): boolean {
    const slot = this.slotOf(key, true);
    const base = slot * this.perSource;
    let live = 0;
    for (let i = base; i < base + this.perSource; i++) {
      if (this.until[i]! <= now) continue;
      if (this.values[i] === (value | 0)) {
        this.until[i] = until;
        return true;
      }
      live++;
    }
    if (live >= max) return false;
    this.addAt(slot, value, now, until); // the slot found above: one LRU lookup per call
    return true;
  }

  /** Removes `value` for `key`; true if it was there. */
  remove(key: SourceKey, value: number, now: number): boolean {
    const slot = this.slotOf(key, false);
    if (slot < 0) return false;
    const base = slot * this.perSource;
    for (let i = base; i < base + this.perSource; i++) {
      if (this.until[i]! > now && this.values[i] === (value | 0)) {
        this.until[i] = 0;
        return true;
      }
    }
    return false;
  }

  /** Live values of `key` at `now`. */
  count(key: SourceKey, now: number): number {
    const slot = this.slotOf(key, false);
    if (slot < 0) return 0;
    return this.countFrom(slot * this.perSource, now);
  }

  /** Whether `value` is live for `key` at `now`. */
  has(key: SourceKey, value: number, now: number): boolean {
    const slot = this.slotOf(key, false);
    if (slot < 0) return false;
    for (let i = slot * this.perSource; i < (slot + 1) * this.perSource; i++) {
      if (this.until[i]! > now && this.values[i] === (value | 0)) return true;
    }
    return false;
  }
}
