// Sources trusted for a while because they named a secret host (the `-m
// recent --set` of the iptables recipe). Bounded by an LRU: an attacker who
// learns the secret host can fill it, but only with its own sources.

import { LRUCache } from 'lru-cache';
import type { SourceKey } from './source-key.js';

export class TrustTable {
  private readonly lru: LRUCache<SourceKey, number>;

  constructor(maxEntries: number) {
    this.lru = new LRUCache<SourceKey, number>({ max: maxEntries });
  }

  isTrusted(key: SourceKey, now: number): boolean {
    const until = this.lru.peek(key);
    return until !== undefined && until > now;
  }

  trust(key: SourceKey, until: number): void {
    this.lru.set(key, until);
  }

  untrust(key: SourceKey): boolean {
    return this.lru.delete(key);
  }

  *entries(now: number): Generator<[SourceKey, number]> {
    for (const [k, until] of this.lru.entries()) if (until > now) yield [k, until];
  }

  activeCount(now: number): number {
    let n = 0;
    for (const until of this.lru.values()) if (until > now) n++;
    return n;
  }
}
