// Requests from untrusted sources that await the PBX's answer, so that an
// answer can be read in the light of its request (was it carrying
// credentials? which method, which user?). A response copies the request's
// Call-ID, CSeq and Via (RFC 3261 §8.2.6.2), so the three together name the
// transaction (§17.2.3 matches server transactions by the top Via's branch
// and the CSeq method; the Call-ID guards against branches that are not
// RFC 3261 compliant). They are hashed to one number; the table is an LRU of
// at most `max` transactions, each forgotten after `ttlMs` (64*T1 = 32 s,
// Timer B/F of §17.1, by default), so a flood cannot grow it.

import { LRUCache } from 'lru-cache';
import type { SourceKey } from './source-key.js';

export const PENDING_CREDENTIALS = 1;

export class PendingTable {
  private readonly lru: LRUCache<number, number>;
  private readonly free: number[] = [];
  private nextSlot = 0;
  private readonly sources: SourceKey[];
  private readonly until: Float64Array;
  private readonly flags: Uint8Array;
  private readonly methods: Uint8Array;
  private readonly users: Int32Array;
  private readonly calls: Int32Array;
  /** Filled by take(): what the matched request was. */
  flagsOut = 0;
  methodOut = 0;
  userOut = 0;
  callOut = 0;

  constructor(
    readonly max: number,
    readonly ttlMs: number,
  ) {
    this.lru = new LRUCache<number, number>({ max, dispose: (slot) => this.free.push(slot) });
    this.sources = new Array<SourceKey>(max + 1).fill(0);
    this.until = new Float64Array(max + 1);
    this.flags = new Uint8Array(max + 1);
    this.methods = new Uint8Array(max + 1);
    this.users = new Int32Array(max + 1);
    this.calls = new Int32Array(max + 1);
  }

  get size(): number {
    return this.lru.size;
  }

  /** Records a request of `source` (a retransmission refreshes it). */
  put(txn: number, source: SourceKey, now: number, flags: number, method: number, user: number, call: number): void {
    // peek: entries leave by age (ttlMs) or as the oldest inserted, not by use.
    let slot = this.lru.peek(txn);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.nextSlot++;
      this.lru.set(txn, slot);
    }
    this.sources[slot] = source;
    this.until[slot] = now + this.ttlMs;
    this.flags[slot] = flags;
    this.methods[slot] = method;
    this.users[slot] = user;
    this.calls[slot] = call;
  }

  /**
   * Looks up the request `txn` of `source`; fills the *Out fields and
   * returns true if it is pending. A final answer (`final`) ends it; a
   * provisional one leaves it pending.
   */
  take(txn: number, source: SourceKey, now: number, final: boolean): boolean {
    const slot = this.lru.peek(txn);
    if (slot === undefined) return false;
    // Ended or expired transactions stay in the LRU, marked, until evicted:
    // lru-cache's delete() of its last entry clears all its preallocated
    // arrays (O(max)), which a quiet PBX would pay on every answer.
    if (this.sources[slot] !== source || this.until[slot]! <= now) return false;
    this.flagsOut = this.flags[slot]!;
    this.methodOut = this.methods[slot]!;
    this.userOut = this.users[slot]!;
    this.callOut = this.calls[slot]!;
    if (final) this.until[slot] = 0;
    return true;
  }
}
