// Per-source request counters for the rate limits, bounded by an LRU.
//
// lru-cache maps a source key to a slot number; the counters live in typed
// arrays indexed by slot (struct of arrays), so a tracked source costs the
// LRU's own entry plus a few bytes of counters, and no object per source.
// When the LRU is full the least recently seen source is evicted and its slot
// reused: a flood from a million spoofed sources costs bounded memory.
//
// Each limit is a sliding window counter (the previous window's count weighted
// by how much of it still overlaps, plus the current window's count): unlike
// a fixed window it does not let a burst straddling a window edge through at
// twice the limit, and it needs only two counts per limit.

import { LRUCache } from 'lru-cache';
import type { SourceKey } from './source-key.js';

export interface RateSpec {
  limit: number;
  windowMs: number;
}

const INITIAL_SLOTS = 1024;

export class RateTable {
  readonly limits: RateSpec[];
  private readonly n: number;
  private readonly lru: LRUCache<SourceKey, number>;
  private readonly free: number[] = [];
  private nextSlot = 0;
  private capacity = 0;
  private prev = new Uint16Array(0);
  private curr = new Uint16Array(0);
  private win = new Uint32Array(0);
  /** Sources forgotten to make room (a metric). */
  evictions = 0;
  private readonly maxSlots: number;

  constructor(maxSources: number, limits: RateSpec[]) {
    this.limits = limits;
    this.n = limits.length;
    // One slot more than the LRU holds: a new source takes the spare slot
    // before set() evicts the oldest, whose slot becomes the next spare.
    this.maxSlots = maxSources + 1;
    this.lru = new LRUCache<SourceKey, number>({
      max: maxSources,
      dispose: (slot, _key, reason) => {
        this.free.push(slot);
        if (reason === 'evict') this.evictions++;
      },
    });
    this.grow(Math.min(INITIAL_SLOTS, this.maxSlots));
  }

  get size(): number {
    return this.lru.size;
  }

  /** Arrays grow by doubling up to the cap, so a small PBX does not pay for a million sources up front. */
  private grow(to: number): void {
    const n = this.n;
    const prev = new Uint16Array(to * n);
    const curr = new Uint16Array(to * n);
    const win = new Uint32Array(to * n);
    prev.set(this.prev);
    curr.set(this.curr);
    win.set(this.win);
    this.prev = prev;
    this.curr = curr;
    this.win = win;
    this.capacity = to;
  }

  /** The source's slot, creating (and possibly evicting) as needed. Valid until the next slot() call. */
  slot(key: SourceKey): number {
    const found = this.lru.get(key);
    if (found !== undefined) return found;
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.nextSlot >= this.capacity) this.grow(Math.min(this.capacity * 2, this.maxSlots));
      slot = this.nextSlot++;
    }
    const base = slot * this.n;
    this.prev.fill(0, base, base + this.n);
    this.curr.fill(0, base, base + this.n);
    this.win.fill(0, base, base + this.n);
    this.lru.set(key, slot);
    return slot;
  }

  /**
   * Counts one request against limit `which` for the source in `slot` at
   * `now` (ms). Returns true when the request exceeds the limit (it is then
   * not counted: a dropped request should not push the window further).
   */
  hit(slot: number, which: number, now: number): boolean {
    const spec = this.limits[which]!;
    const i = slot * this.n + which;
    const w = Math.floor(now / spec.windowMs);
    const stored = this.win[i]!;
    if (w !== stored) {
      // Roll: the current window becomes the previous one if adjacent, else both are stale.
      this.prev[i] = w === stored + 1 ? this.curr[i]! : 0;
      this.curr[i] = 0;
      this.win[i] = w;
    }
    const elapsed = (now - w * spec.windowMs) / spec.windowMs;
    const estimate = this.prev[i]! * (1 - elapsed) + this.curr[i]!;
    if (estimate + 1 > spec.limit) return true;
    if (this.curr[i]! < 0xffff) this.curr[i] = this.curr[i]! + 1;
    return false;
  }

  /** Looks a source up without touching its recency. */
  has(key: SourceKey): boolean {
    return this.lru.has(key);
  }

  clear(): void {
    this.lru.clear();
  }
}
