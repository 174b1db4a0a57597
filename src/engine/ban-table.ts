// Banned sources, with escalation for repeat offenders.
//
// The record of a source outlives its ban by `forgetAfterMs`, so a source
// banned again soon after its ban ran out gets a longer ban (fail2ban's
// "recidive" jail, built in). Bounded: beyond `maxEntries` the least
// recently banned record is forgotten here, while the kernel's ipset keeps
// the entry until its own timeout.
//
// A Map in recency order (a ban moves its record to the end) rather than
// lru-cache, as the other per-source tables use: the ban store saves this
// table while packets keep changing it (ban-store.ts), a slice per turn of
// the event loop. A Map's iterator is specified under mutation (ECMA-262
// §24.1.3: entries deleted are skipped, entries added are visited), where
// lru-cache's walk stops at an entry deleted under it, and costs about a
// tenth as much per entry.

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
  /** Oldest ban first. */
  private readonly byRecency = new Map<SourceKey, BanRecord>();
  /**
   * Where eviction stands in byRecency, kept from one eviction to the next
   * while the table is full. A fresh keys() starts at the front, and V8
   * keeps a deleted Map entry as a hole until the table is rehashed, so
   * every eviction would step over all the holes the evictions before it
   * left: under a flood of new sources, a ban took 100-300 µs instead of
   * under 1 µs (bench:engine, 262,144 bans). Everything before this
   * iterator's position has been evicted (each key it yields is deleted at
   * once), and by ECMA-262 §24.1.3.5 a Map iterator skips entries deleted
   * after it was made and visits those added, so it always yields the
   * oldest record.
   */
  private evicting: Iterator<SourceKey> | null = null;
  /** Walks begun at the front (each steps over every hole there): one per fill of the table, not one per ban. */
  evictionWalks = 0;
  policy: BanPolicy;

  constructor(policy: BanPolicy) {
    this.policy = policy;
  }

  get size(): number {
    return this.byRecency.size;
  }

  /** Puts a record last (the most recent), forgetting the oldest beyond maxEntries. */
  private put(key: SourceKey, rec: BanRecord): void {
    const m = this.byRecency;
    m.delete(key);
    m.set(key, rec);
    // Below the bound (an unban made room): no iterator to keep old tables
    // alive. At it, keep it: a repeat ban (delete, then set) leaves the
    // table full without evicting, and the next new ban must not start over.
    if (m.size < this.policy.maxEntries) this.evicting = null;
    while (m.size > this.policy.maxEntries) {
      let next = (this.evicting ?? this.walkFromFront()).next();
      if (next.done === true) next = this.walkFromFront().next();
      m.delete(next.value as SourceKey);
    }
  }

  private walkFromFront(): Iterator<SourceKey> {
    this.evictionWalks++;
    return (this.evicting = this.byRecency.keys());
  }

  /** The ban record of a source if it is banned at `now`, else null. Counts the hit. */
  active(key: SourceKey, now: number): BanRecord | null {
    const r = this.byRecency.get(key);
    if (r === undefined || r.until <= now) return null;
    r.hits++;
    return r;
  }

  /** The record of a source, banned or not, without counting a hit or touching recency. */
  peek(key: SourceKey): BanRecord | undefined {
    return this.byRecency.get(key);
  }

  /**
   * Bans a source, escalating if it was banned before within the memory
   * window. Returns the ban's duration in seconds.
   */
  ban(key: SourceKey, now: number, reason: number, ruleId: string, fixedSeconds = 0): number {
    const p = this.policy;
    let r = this.byRecency.get(key);
    if (r !== undefined && r.until + p.forgetAfterSeconds * 1000 < now) r = undefined; // forgiven: escalation starts over
    const offences = r === undefined ? 1 : r.offences + 1;
    const seconds =
      fixedSeconds > 0 ? fixedSeconds : Math.min(p.maxSeconds, Math.round(p.baseSeconds * p.factor ** (offences - 1)));
    const rec: BanRecord = { until: now + seconds * 1000, since: now, offences, reason, ruleId, hits: r?.hits ?? 0 };
    this.put(key, rec);
    return seconds;
  }

  /** Lifts a ban; the record is dropped too (an admin's unban forgives). Returns whether one was active. */
  unban(key: SourceKey, now: number): boolean {
    const r = this.byRecency.get(key);
    this.byRecency.delete(key);
    return r !== undefined && r.until > now;
  }

  /** Active bans at `now`, for listing and persistence. */
  *entries(now: number): Generator<[SourceKey, BanRecord]> {
    for (const [k, r] of this.byRecency) if (r.until > now) yield [k, r];
  }

  /**
   * The `limit` most recent active bans at `now`, newest first: what an
   * admin listing bans during an attack wants to see first. One pass with
   * a ring of `limit` entries, however many bans there are.
   */
  newest(now: number, limit: number): Array<[SourceKey, BanRecord]> {
    // Two rings, not one of pairs: nothing allocated per ban walked.
    const keys: SourceKey[] = [];
    const recs: BanRecord[] = [];
    let next = 0;
    if (limit < 1) return [];
    for (const [k, r] of this.byRecency) {
      if (r.until <= now) continue;
      keys[next] = k;
      recs[next] = r;
      next = (next + 1) % limit;
    }
    // keys[next - 1] is the newest; walk back from it.
    const out: Array<[SourceKey, BanRecord]> = [];
    for (let i = 1; i <= keys.length; i++) {
      const j = (next - i + limit * 2) % limit;
      out.push([keys[j]!, recs[j]!]);
    }
    return out;
  }

  /**
   * Records worth saving at `now`: active bans, and ended ones still
   * remembered for escalation (forgetAfterSeconds), so that a restart does
   * not forgive a repeat offender. At most `maxVisits` records are looked at.
   */
  *records(now: number, maxVisits = Infinity): Generator<[SourceKey, BanRecord]> {
    const keep = this.policy.forgetAfterSeconds * 1000;
    let visits = 0;
    for (const [k, r] of this.byRecency) {
      if (visits++ >= maxVisits) return;
      if (r.until + keep > now) yield [k, r];
    }
  }

  /** Restores a record (from the state file) as it was, as the most recent. */
  restore(key: SourceKey, rec: BanRecord): void {
    this.put(key, rec);
  }

  activeCount(now: number): number {
    let n = 0;
    for (const r of this.byRecency.values()) if (r.until > now) n++;
    return n;
  }
}
