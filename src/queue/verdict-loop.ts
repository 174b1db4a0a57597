// The inline verdict loop: one call per batch from the native addon. For each
// packet it decodes, asks the engine, writes the verdict, and carries out the
// engine's side effects: a ban goes to the kernel ban set (banned traffic then
// dies before the queue) and to the native hot table (what is already queued
// is dropped in C); a trust goes to the hot table as accept.
//
// Never throws into the addon: an exception mid-batch is logged and the rest
// of the batch is left unanswered, which the addon accepts (fail-open).

import type { Logger } from '../cli/logger.js';
import { Decision } from '../engine/decision.js';
import type { Engine } from '../engine/engine.js';
import { REASON_NAMES, R_UNDECODABLE } from '../engine/reasons.js';
import { sourceKeyText } from '../engine/source-key.js';
import { VERDICT_ACCEPT, VERDICT_ACCEPT_TRUST, VERDICT_DROP } from '../engine/verdicts.js';
import { decodeIp } from '../packet/decode-ip.js';
import { DECODE_OK, PacketView } from '../packet/packet-view.js';
import { KIND_REQUEST } from '../sip/constants.js';
import { hotTtl } from './nfqueue.js';
import {
  DESC_CAPLEN, DESC_FLAGS, DESC_HOOK, DESC_OFFSET, DESC_ORIGLEN, DESC_STRIDE, FLAG_TRUNCATED, HOOK_LOCAL_OUT, type QueueBatch,
} from './queue-batch.js';

/** What the loop needs of the queue: the hot table. */
export interface HotTable {
  hotSet(addr: Uint8Array, family: 4 | 6, verdict: 0 | 1 | 2, ttlMs: number): boolean;
}

/** What the loop needs of the kernel: somewhere to put bans. */
export interface BanSink {
  add(cidr: string, seconds: number): boolean;
}

/** Counters for status and metrics: plain typed arrays, indexed by reason / method id. */
export class LoopCounters {
  readonly accepted = new Float64Array(REASON_NAMES.length);
  readonly dropped = new Float64Array(REASON_NAMES.length);
  readonly methods = new Float64Array(32);
  batches = 0;
  packets = 0;
  bans = 0;
  trusts = 0;
  hotFull = 0;
  errors = 0;
  /** Batch sizes, for the histogram. */
  lastBatch = 0;

  /** Counts one decision: by verdict and reason, SIP requests by method, bans and trusts. */
  count(d: Decision): void {
    (d.verdict === VERDICT_DROP ? this.dropped : this.accepted)[d.reason]!++;
    if (d.kind === KIND_REQUEST) this.methods[d.method]!++;
    if (d.ban) this.bans++;
    if (d.trust) this.trusts++;
  }
}

export class VerdictLoop {
  readonly counters = new LoopCounters();
  private readonly view = new PacketView();
  private readonly d = new Decision();
  /** Set by the metrics: called once per batch with its size and the seconds spent deciding it. Null: no clock reads. */
  batchObserver: ((packets: number, seconds: number) => void) | null = null;

  constructor(
    private readonly engine: Engine,
    private readonly hot: HotTable,
    private readonly bans: BanSink,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  onBatch(b: QueueBatch): void {
    const c = this.counters;
    c.batches++;
    c.lastBatch = b.count;
    const obs = this.batchObserver;
    const t0 = obs !== null ? performance.now() : 0; // two clock reads per batch, none per packet
    const now = this.clock();
    const view = this.view;
    const d = this.d;
    const desc = b.desc;
    // One packet's failure (a bug, a side effect refused) leaves that packet
    // without a verdict (the native tier accepts it) and the rest of the
    // batch judged: a try per packet, one log line per batch.
    let failed = 0;
    let firstError: unknown = null;
    let firstAt = -1;
    for (let i = 0; i < b.count; i++) {
      try {
        const o = i * DESC_STRIDE;
        const off = desc[o + DESC_OFFSET]!;
        const len = desc[o + DESC_CAPLEN]!;
        c.packets++;
        if (decodeIp(b.data, off, len, view) !== DECODE_OK) {
          // Not even an IP/UDP/TCP packet we can read: malformed-SIP policy.
          const v = this.engine.rules.acceptInvalidSip ? VERDICT_ACCEPT : VERDICT_DROP;
          b.verdicts[i] = v;
          (v === VERDICT_DROP ? c.dropped : c.accepted)[R_UNDECODABLE]!++;
          continue;
        }
        // The queue's copy range cut the packet: the decoder sees the IP length, the flag says so too.
        if ((desc[o + DESC_FLAGS]! & FLAG_TRUNCATED) !== 0 || desc[o + DESC_ORIGLEN]! > len) view.truncated = true;
        if (desc[o + DESC_HOOK] === HOOK_LOCAL_OUT) this.engine.observe(view, now, d);
        else this.engine.decide(view, now, d);
        b.verdicts[i] = d.verdict;
        c.count(d);
        if (d.ban) this.applyBan();
        if (d.trust) this.applyTrust(now);
      } catch (err) {
        if (failed++ === 0) {
          firstError = err;
          firstAt = i;
        }
      }
    }
    if (failed > 0) {
      c.errors++;
      this.log.error('verdict-error', { message: (firstError as Error)?.message ?? String(firstError), packet: firstAt, failed, batch: b.count });
    }
    if (obs !== null) obs(b.count, (performance.now() - t0) / 1000);
  }

  /** The address the decision is about: the source, or for a packet the PBX sent (observe) its destination. */
  private sourceBytes(): Uint8Array {
    const v = this.view;
    const n = v.family === 4 ? 4 : 16;
    const off = this.d.peerIsDst ? v.dstOff : v.srcOff;
    return Uint8Array.prototype.slice.call(v.buf, off, off + n);
  }

  private applyBan(): void {
    const d = this.d;
    const v6Prefix = this.engine.rules.ipv6PrefixLength;
    const cidr = sourceKeyText(d.source, v6Prefix);
    this.bans.add(cidr, d.banSeconds);
    // The hot table keys IPv6 by /64: only use it when that is no wider than what was banned.
    if (this.view.family === 4 || v6Prefix <= 64) {
      if (!this.hot.hotSet(this.sourceBytes(), this.view.family as 4 | 6, VERDICT_DROP, hotTtl(d.banSeconds * 1000))) this.counters.hotFull++;
    }
    this.log.warn('ban', { source: cidr, seconds: d.banSeconds, reason: REASON_NAMES[d.reason], rule: d.ruleId, offences: this.engine.bans.peek(d.source)?.offences ?? 1 });
  }

  private applyTrust(now: number): void {
    const d = this.d;
    const v6Prefix = this.engine.rules.ipv6PrefixLength;
    const ttl = Math.max(1, Math.round(d.trustUntil - now));
    const bytes = this.sourceBytes();
    const blockedNeighbour = this.view.family === 6 && this.engine.rules.blockedInside64.has(bytes, 0, 6);
    if ((this.view.family === 4 || v6Prefix <= 64) && !blockedNeighbour) {
      if (!this.hot.hotSet(bytes, this.view.family as 4 | 6, VERDICT_ACCEPT_TRUST, hotTtl(ttl))) this.counters.hotFull++;
    }
    this.log.info('trust', { source: sourceKeyText(d.source, v6Prefix), seconds: Math.round(ttl / 1000) });
  }
}
