// Requests from untrusted sources that await the PBX's answer, so that an
// answer can be read in the light of its request (was it carrying
// credentials? which method, which user?). A response copies the request's
// Call-ID and CSeq (RFC 3261 §8.2.6.2), which name the transaction here
// (the Via branch, which PBXs may print back changed, is left out:
// Engine.transaction). They are hashed to one number; the table holds at
// most `max` transactions, each forgotten after `ttlMs` (64*T1 = 32 s,
// Timer B/F of §17.1, by default), so a flood cannot grow it.
//
// Why not an LRU over a Map: every request of a flood inserts one entry and
// evicts another, and a V8 Map never reuses a deleted entry's place; it
// rehashes all live entries each time its table fills, a stall of several
// milliseconds every `max` requests (measured: 4 ms per 65536 at 50k
// requests/s). Here everything lives in arrays sized once: a ring of
// slots reused oldest first (entries leave by age, or as the oldest
// inserted, never by use) and chained buckets indexing them. No allocation
// per request, no rehash, O(1) per operation.

import { randomInt } from 'node:crypto';
import { mix32 } from '../packet/address.js';
import type { SourceKey } from './source-key.js';

export const PENDING_CREDENTIALS = 1;
/** A 2xx to it is no login (not a REGISTER adding bindings with credentials). Sticky like the credentials flag: one such copy is enough. */
export const PENDING_NO_LOGIN = 2;

/** Smallest power of two >= n. */
function pow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class PendingTable {
  private readonly mask: number;
  /**
   * Mixed into every bucket index. The transaction number is an unkeyed
   * FNV hash of what the client chose (Call-ID, CSeq): without a secret, one
   * can work out offline tens of thousands of CSeqs that share a bucket
   * (review: 32,766 in 10 s), and every put and take then walks that chain
   * (21 µs a request with 30,000 in it, against 0.07).
   */
  private readonly seed = randomInt(0x100000000) | 0;
  /** bucket -> first slot + 1 of its chain (0: empty). */
  private readonly heads: Int32Array;
  /** slot -> next slot + 1 in the same bucket (0: end). */
  private readonly nexts: Int32Array;
  private readonly keys: Int32Array;
  /** The ring position: the slot the next new transaction takes. */
  private cursor = 0;
  private used = 0;
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
    const buckets = pow2(max);
    this.mask = buckets - 1;
    this.heads = new Int32Array(buckets);
    this.nexts = new Int32Array(max);
    this.keys = new Int32Array(max);
    // IPv4 keys are small integers, IPv6 ones short strings (source-key.ts): one plain array.
    this.sources = new Array<SourceKey>(max).fill(0);
    this.until = new Float64Array(max);
    this.flags = new Uint8Array(max);
    this.methods = new Uint8Array(max);
    this.users = new Int32Array(max);
    this.calls = new Int32Array(max);
  }

  /** The longest bucket chain (tests: how evenly transactions spread). */
  longestChain(): number {
    let longest = 0;
    for (let b = 0; b <= this.mask; b++) {
      let n = 0;
      for (let s = this.heads[b]!; s !== 0; s = this.nexts[s - 1]!) n++;
      if (n > longest) longest = n;
    }
    return longest;
  }

  /** Transactions held (answered and expired ones included until their slot is reused). */
  get size(): number {
    return this.used;
  }

  private bucket(txn: number): number {
    return mix32(txn ^ this.seed) & this.mask;
  }

  /** The slot holding `txn`, or -1. */
  private find(txn: number): number {
    for (let s = this.heads[this.bucket(txn)]!; s !== 0; s = this.nexts[s - 1]!) {
      if (this.keys[s - 1] === txn) return s - 1;
    }
    return -1;
  }

  /** Takes `slot` out of its bucket's chain. */
  private unlink(slot: number): void {
    const b = this.bucket(this.keys[slot]!);
    let s = this.heads[b]!;
    if (s === slot + 1) {
      this.heads[b] = this.nexts[slot]!;
      return;
    }
    while (s !== 0) {
      const n = this.nexts[s - 1]!;
      if (n === slot + 1) {
        this.nexts[s - 1] = this.nexts[slot]!;
        return;
      }
      s = n;
    }
  }

  /** Records a request of `source` (a retransmission refreshes it). */
  put(txn: number, source: SourceKey, now: number, flags: number, method: number, user: number, call: number): void {
    const key = txn | 0;
    let slot = this.find(key);
    const found = slot >= 0;
    if (slot < 0) {
      slot = this.cursor;
      this.cursor = slot + 1 === this.max ? 0 : slot + 1;
      // The oldest transaction gives its slot up.
      if (this.used === this.max) this.unlink(slot);
      else this.used++;
      this.keys[slot] = key;
      const b = this.bucket(key);
      this.nexts[slot] = this.heads[b]!;
      this.heads[b] = slot + 1;
    }
    // The same transaction again while pending (a retransmission, or a copy
    // with another Via branch): credentials seen once stay seen, or a copy
    // without them would turn the 401 to a guess into a mere challenge.
    const again = found && this.sources[slot] === source && this.until[slot]! > now;
    this.sources[slot] = source;
    this.until[slot] = now + this.ttlMs;
    this.flags[slot] = again ? this.flags[slot]! | flags : flags;
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
    const slot = this.find(txn | 0);
    if (slot < 0) return false;
    // Ended or expired transactions keep their slot, marked, until the ring reuses it.
    if (this.sources[slot] !== source || this.until[slot]! <= now) return false;
    this.flagsOut = this.flags[slot]!;
    this.methodOut = this.methods[slot]!;
    this.userOut = this.users[slot]!;
    this.callOut = this.calls[slot]!;
    if (final) this.until[slot] = 0;
    return true;
  }
}
