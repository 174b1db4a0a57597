// Banned sources, with escalation for repeat offenders.
//
// The record of a source outlives its ban by `forgetAfterMs`, so a source
// banned again soon after its ban ran out gets a longer ban (fail2ban's
// "recidive" jail, built in). Bounded by an LRU: beyond `maxEntries` the least
// recently touched record is forgotten here, while the kernel's ipset keeps
// the entry until its own timeout.

import { LRUCache } from 'lru-cache';
import type { SourceKey } from './source-key.js';

export interface BanRecord {
  /** Ban ends at this time (ms); 0 when the source is not banned now (record kept for escalation). */
  until: number;
  /** When the last ban began (ms). */
  since: number;
  /** Bans so far within the escalation memory. */
  offences: number;
  /** REASON id of the last ban. */
  reason: number;
  /** Rule that caused it ('' when none). */
  ruleId: string;
  /** Packets seen from the source while banned (the kernel and native tiers drop most before us). */
  hits: number;
}

export interface BanPolicy {
  baseSeconds: number;
  factor: number;
  maxSeconds: number;
  forgetAfterSeconds: number;
  maxEntries: number;
}

export class BanTable {
  private readonly lru: LRUCache<SourceKey, BanRecord>;
  policy: BanPolicy;

  constructor(policy: BanPolicy) {
    this.policy = policy;
    this.lru = new LRUCache<SourceKey, BanRecord>({ max: policy.maxEntries });
  }

  /** The ban record of a source if it is banned at `now`, else null. Counts the hit. */
  active(key: SourceKey, now: number): BanRecord | null {
    const r = this.lru.peek(key);
    if (r === undefined || r.until <= now) return null;
    r.hits++;
    return r;
  }

  /** The record of a source, banned or not, without counting a hit or touching recency. */
  peek(key: SourceKey): BanRecord | undefined {
    return this.lru.peek(key);
  }

  /**
   * Bans a source, escalating if it was banned before within the memory
   * window. Returns the ban's duration in seconds.
   */
  ban(key: SourceKey, now: number, reason: number, ruleId: string, fixedSeconds = 0): number {
    const p = this.policy;
    let r = this.lru.get(key);
    if (r !== undefined && r.until + p.forgetAfterSeconds * 1000 < now) r = undefined; // forgiven: escalation starts over
    const offences = r === undefined ? 1 : r.offences + 1;
    const seconds =
      fixedSeconds > 0 ? fixedSeconds : Math.min(p.maxSeconds, Math.round(p.baseSeconds * p.factor ** (offences - 1)));
    const rec: BanRecord = { until: now + seconds * 1000, since: now, offences, reason, ruleId, hits: r?.hits ?? 0 };
    this.lru.set(key, rec);
    return seconds;
  }

  /** Lifts a ban; the record is dropped too (an admin's unban forgives). Returns whether one was active. */
  unban(key: SourceKey, now: number): boolean {
    const r = this.lru.peek(key);
    this.lru.delete(key);
    return r !== undefined && r.until > now;
  }

  /** Active bans at `now`, for listing and persistence. */
  *entries(now: number): Generator<[SourceKey, BanRecord]> {
    for (const [k, r] of this.lru.entries()) if (r.until > now) yield [k, r];
  }

  /**
   * Records worth saving at `now`: active bans, and ended ones still
   * remembered for escalation (forgetAfterSeconds), so that a restart does
   * not forgive a repeat offender.
   */
  *records(now: number): Generator<[SourceKey, BanRecord]> {
    const keep = this.policy.forgetAfterSeconds * 1000;
    for (const [k, r] of this.lru.entries()) if (r.until + keep > now) yield [k, r];
  }

  /** Restores a record (from the state file) as it was. */
  restore(key: SourceKey, rec: BanRecord): void {
    this.lru.set(key, rec);
  }

  activeCount(now: number): number {
    let n = 0;
    for (const r of this.lru.values()) if (r.until > now) n++;
    return n;
  }
}
