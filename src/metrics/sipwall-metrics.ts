// sipwall's Prometheus metrics, on a registry of their own (never
// prom-client's global one, which any other module could write to).
//
// Almost everything here is already counted somewhere as a plain number: the
// verdict loop's LoopCounters (typed arrays indexed by reason / method id),
// the native addon's stats array, the engine's tables, the kernel's proc
// file. Those are read by collect() callbacks when Prometheus scrapes, so the
// packet path does no extra work for the metrics. The two histograms are the
// exception: the verdict loop reports each batch once (size and time spent
// deciding it: two clock reads per batch, none per packet).
//
// Label values come only from fixed tables (REASON_NAMES, METHOD_NAMES and
// the literals below): never an address, a User-Agent or anything else an
// attacker chooses, so the number of series is bounded whatever arrives.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  REASON_NAMES, R_AUTH_FAILURES, R_DISTINCT_USERS, R_FINGERPRINT, R_INVALID_SIP, R_NON_SIP, R_TLS, R_RATE_ALL, R_RATE_INVITE,
  R_RATE_REGISTER, R_SCANNER_UA, R_TOLL_FRAUD, R_UNDECODABLE, R_UNKNOWN_USERS,
} from '../engine/reasons.js';
import { STAT_INDEX, STATS_COUNT, type StatName } from '../queue/queue-stats.js';
import type { LoopCounters } from '../queue/verdict-loop.js';
import { METHOD_NAMES } from '../sip/constants.js';
import type { KernelQueueStats } from '../queue/kernel-queue-stats.js';

/** What the metrics read. Every member is read at scrape time, never per packet. */
export interface MetricsSources {
  /** The verdict loop's counters. */
  counters: Pick<LoopCounters, 'accepted' | 'dropped' | 'methods' | 'trusts' | 'hotFull' | 'errors'>;
  /** The engine's state tables. */
  engine: {
    rates: { readonly size: number; readonly evictions: number };
    bans: { activeCount(now: number): number };
    trust: { activeCount(now: number): number };
    flows: { readonly size: number; readonly evicted: number };
  };
  /** Copies the native queue counters into `out` (STAT_INDEX order); false when there is no queue (yet). */
  readQueueStats(out: Float64Array): boolean;
  /** The kernel's counters of our queue; null when the kernel lists no such queue. */
  kernelQueue(): KernelQueueStats | null;
  /** Times the kernel rules were found changed by another tool and put back (rules-watchdog.ts); absent: 0. */
  rulesRestored?: () => number;
  /** Clock for "active" bans and trusts (ms); Date.now by default, like the engine's. */
  now?: () => number;
}

export interface SipwallMetrics {
  readonly registry: Registry;
  /** Called by the verdict loop once per batch: its size and the seconds spent deciding it. */
  observeBatch(packets: number, seconds: number): void;
}

/**
 * The reasons the engine bans for. Engine.dropAndBan() is the only place a
 * ban is made, and the packet that caused it is counted under the ban's
 * reason (dropped; or, for the PBX's answers that ban the party they go to,
 * accepted: answers always leave); later packets of the source are dropped
 * as `banned`. So the packets under these reasons are the bans, and need no
 * counter of their own on the packet path. (A test holds this against
 * LoopCounters.bans with a real engine.) Bans made by the admin (sipwall
 * ban) are not packets and are not counted.
 */
export const BAN_REASONS: readonly number[] = [
  R_SCANNER_UA, R_FINGERPRINT, R_RATE_REGISTER, R_RATE_INVITE, R_RATE_ALL, R_TOLL_FRAUD, R_DISTINCT_USERS, R_AUTH_FAILURES,
  R_UNKNOWN_USERS,
];

/** Payloads that are not (valid) SIP, by the reason they are counted under. */
const INVALID_KINDS: ReadonlyArray<readonly [string, number]> = [
  ['non-sip', R_NON_SIP],
  ['tls', R_TLS],
  ['invalid-sip', R_INVALID_SIP],
  ['undecodable', R_UNDECODABLE],
];

/** Plain counters of the native tier: metric name, help, stat. */
const QUEUE_COUNTERS: ReadonlyArray<readonly [string, string, StatName]> = [
  ['sipwall_queue_packets_total', 'Packets received from the kernel queue by the native tier.', 'packets'],
  ['sipwall_queue_batches_total', 'Wake-ups of the native tier that received at least one packet.', 'batches'],
  ['sipwall_queue_js_calls_total', 'Batches handed to the verdict engine.', 'jsCalls'],
  ['sipwall_queue_to_engine_packets_total', 'Packets handed to the verdict engine (not answered by the native tier).', 'toJs'],
  ['sipwall_queue_tcp_empty_accepted_total', 'Payload-less TCP segments accepted by the native tier.', 'tcpEmptyAccept'],
  ['sipwall_queue_verdict_sends_total', 'Netlink sends carrying verdicts back to the kernel.', 'verdictSends'],
  ['sipwall_queue_verdict_messages_total', 'Netlink verdict messages (a batch verdict covering a range counts once).', 'verdictMessages'],
  ['sipwall_queue_enobufs_total', 'ENOBUFS on the queue socket: the kernel could not deliver queued packets to sipwall (receive buffer full).', 'enobufs'],
  ['sipwall_queue_js_errors_total', 'Batches whose engine callback threw or could not run (their packets were accepted).', 'jsErrors'],
  ['sipwall_queue_unanswered_total', 'Packets the engine left without a valid verdict (accepted).', 'jsUnanswered'],
  ['sipwall_queue_truncated_total', 'Packets cut short by inline.copyRange.', 'truncated'],
  ['sipwall_queue_gso_total', 'GSO aggregates received.', 'gso'],
  ['sipwall_queue_fail_open_total', 'Packets accepted without a decision (while opening or closing the queue, or unparsable messages).', 'failOpenOther'],
];

const QUEUE_ERRORS: ReadonlyArray<readonly [string, StatName]> = [
  ['recv', 'recvErrors'],
  ['send', 'sendErrors'],
  ['verdict', 'verdictErrors'],
  ['parse', 'parseErrors'],
];

/** Batch sizes: powers of two up to the largest inline.batchSize (1024). */
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** Seconds per batch: a few microseconds for one packet, milliseconds for a full batch of a flood. */
const BATCH_SECONDS_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

export function createSipwallMetrics(src: MetricsSources): SipwallMetrics {
  const registry = new Registry();
  const registers = [registry];
  const now = src.now ?? Date.now;
  const c = src.counters;
  collectDefaultMetrics({ register: registry });

  // One read of the native counters per collect(); a few doubles copied, no allocation.
  const stats = new Float64Array(STATS_COUNT);
  const readStats = (): boolean => {
    try {
      return src.readQueueStats(stats);
    } catch {
      return false; // a scrape must not fail because the queue is closing
    }
  };
  const stat = (name: StatName): number => stats[STAT_INDEX[name]] ?? 0;

  new Counter({
    name: 'sipwall_packets_total',
    help: 'Packets judged by the verdict engine, by verdict and reason (trust verdicts count as accept).',
    labelNames: ['verdict', 'reason'],
    registers,
    collect() {
      this.reset();
      for (let r = 0; r < REASON_NAMES.length; r++) {
        this.inc({ verdict: 'accept', reason: REASON_NAMES[r]! }, c.accepted[r] ?? 0);
        this.inc({ verdict: 'drop', reason: REASON_NAMES[r]! }, c.dropped[r] ?? 0);
      }
    },
  });

  new Counter({
    name: 'sipwall_sip_requests_total',
    help: 'SIP requests judged by the verdict engine, by method (of the first request in the packet); OTHER: methods sipwall does not name.',
    labelNames: ['method'],
    registers,
    collect() {
      this.reset();
      for (let m = 0; m < METHOD_NAMES.length; m++) this.inc({ method: METHOD_NAMES[m]! }, c.methods[m] ?? 0);
    },
  });

  new Counter({
    name: 'sipwall_bans_total',
    help: 'Sources banned by the engine, by reason.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const r of BAN_REASONS) this.inc({ reason: REASON_NAMES[r]! }, (c.dropped[r] ?? 0) + (c.accepted[r] ?? 0));
    },
  });

  new Counter({
    name: 'sipwall_invalid_payloads_total',
    help: 'Packets on the SIP ports that were not valid SIP, by kind (accepted or dropped by policy).',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const [kind, r] of INVALID_KINDS) this.inc({ kind }, (c.accepted[r] ?? 0) + (c.dropped[r] ?? 0));
    },
  });

  new Counter({
    name: 'sipwall_trusts_total',
    help: 'Packets that made or renewed the trust of a source: a request naming a secret host, or an accepted login (answers.trustAfterAuthSeconds).',
    registers,
    collect() {
      this.reset();
      this.inc(c.trusts);
    },
  });

  new Counter({
    name: 'sipwall_hot_table_full_total',
    help: 'Bans or trusts the native hot table could not hold because it was full (inline.hotMaxEntries).',
    registers,
    collect() {
      this.reset();
      this.inc(c.hotFull);
    },
  });

  new Counter({
    name: 'sipwall_engine_errors_total',
    help: 'Batches in which the verdict engine hit an unexpected error on some packet (those packets were accepted; the rest of the batch was judged).',
    registers,
    collect() {
      this.reset();
      this.inc(c.errors);
    },
  });

  new Gauge({
    name: 'sipwall_bans_active',
    help: 'Sources banned right now in the engine (the kernel ban sets may hold admin bans of whole networks too).',
    registers,
    collect() {
      this.set(src.engine.bans.activeCount(now()));
    },
  });

  new Gauge({
    name: 'sipwall_trusted_sources',
    help: 'Sources trusted right now because they named a secret host or logged in (answers.trustAfterAuthSeconds).',
    registers,
    collect() {
      this.set(src.engine.trust.activeCount(now()));
    },
  });

  new Gauge({
    name: 'sipwall_tracked_sources',
    help: 'Sources with rate-limit state (at most maxTrackedSources).',
    registers,
    collect() {
      this.set(src.engine.rates.size);
    },
  });

  new Counter({
    name: 'sipwall_tracked_source_evictions_total',
    help: 'Sources forgotten by the rate limiter to stay within maxTrackedSources.',
    registers,
    collect() {
      this.reset();
      this.inc(src.engine.rates.evictions);
    },
  });

  new Counter({
    name: 'sipwall_rules_restored_total',
    help: "Times sipwall found its iptables rules or ban sets removed or changed by another tool, and put them back.",
    registers,
    collect() {
      this.reset();
      this.inc(src.rulesRestored?.() ?? 0);
    },
  });

  new Gauge({
    name: 'sipwall_tcp_flows',
    help: 'TCP flows followed by the engine for SIP reassembly.',
    registers,
    collect() {
      this.set(src.engine.flows.size);
    },
  });

  new Counter({
    name: 'sipwall_tcp_flows_evicted_total',
    help: 'TCP flows pushed out of the full flow table. From the first, connections whose start sipwall did not see are no longer picked up.',
    registers,
    collect() {
      this.reset();
      this.inc(src.engine.flows.evicted);
    },
  });

  // ---- native tier -------------------------------------------------------
  new Counter({
    name: 'sipwall_native_hot_hits_total',
    help: 'Packets answered by the native hot table without the engine, by verdict (drop: banned source; trust/accept: trusted source; accept also: what the PBX sends to a hot party).',
    labelNames: ['verdict'],
    registers,
    collect() {
      this.reset();
      if (!readStats()) return;
      this.inc({ verdict: 'drop' }, stat('hotDrop'));
      this.inc({ verdict: 'trust' }, stat('hotTrust'));
      this.inc({ verdict: 'accept' }, stat('hotAccept'));
    },
  });

  new Counter({
    name: 'sipwall_queue_verdicts_total',
    help: 'Verdicts sent to the kernel for queued packets, by every tier (native hot table, engine, fail-open), by verdict.',
    labelNames: ['verdict'],
    registers,
    collect() {
      this.reset();
      if (!readStats()) return;
      this.inc({ verdict: 'drop' }, stat('dropped'));
      this.inc({ verdict: 'trust' }, stat('trusted'));
      // The native "accepted" includes trust verdicts: keep the labels disjoint.
      this.inc({ verdict: 'accept' }, Math.max(0, stat('accepted') - stat('trusted')));
    },
  });

  new Counter({
    name: 'sipwall_queue_errors_total',
    help: 'Netlink failures of the queue socket, by operation (the packets involved were accepted or left to the kernel).',
    labelNames: ['op'],
    registers,
    collect() {
      this.reset();
      if (!readStats()) return;
      for (const [op, s] of QUEUE_ERRORS) this.inc({ op }, stat(s));
    },
  });

  for (const [name, help, s] of QUEUE_COUNTERS) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        if (readStats()) this.inc(stat(s));
      },
    });
  }

  new Gauge({
    name: 'sipwall_hot_table_entries',
    help: 'Entries in use in the native hot table (expired ones until reclaimed).',
    registers,
    collect() {
      this.set(readStats() ? stat('hotEntries') : 0);
    },
  });

  // ---- the kernel's view of the queue -------------------------------------
  // The proc file is read once per scrape: Registry.metrics() runs every
  // collect() in one synchronous stretch, and the cached line is forgotten
  // in the microtask right after it.
  let kq: KernelQueueStats | null = null;
  let kqFresh = false;
  const kernel = (): KernelQueueStats | null => {
    if (!kqFresh) {
      kqFresh = true;
      queueMicrotask(() => (kqFresh = false));
      try {
        kq = src.kernelQueue();
      } catch {
        kq = null;
      }
    }
    return kq;
  };

  new Gauge({
    name: 'sipwall_queue_bound',
    help: 'Whether the kernel lists sipwall\'s NFQUEUE as bound (1) or not (0).',
    registers,
    collect() {
      this.set(kernel() !== null ? 1 : 0);
    },
  });

  new Gauge({
    name: 'sipwall_queue_kernel_waiting',
    help: 'Packets held by the kernel waiting for a verdict (inline.queueMaxLen at most).',
    registers,
    collect() {
      this.set(kernel()?.waiting ?? 0);
    },
  });

  const kernelCounters: ReadonlyArray<readonly [string, string, (k: KernelQueueStats) => number]> = [
    ['sipwall_queue_kernel_dropped_total', 'Packets the kernel dropped because the queue was full (fail-closed only: with failOpen they pass unfiltered, uncounted).', (k) => k.queueDropped],
    ['sipwall_queue_kernel_user_dropped_total', 'Packets the kernel dropped because it could not send them to sipwall (socket buffer full; fail-closed only).', (k) => k.userDropped],
    ['sipwall_queue_kernel_enqueued_total', 'Packets the kernel handed to the queue since sipwall bound it (32-bit, wraps).', (k) => k.idSequence],
  ];
  for (const [name, help, pick] of kernelCounters) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        const k = kernel();
        if (k !== null) this.inc(pick(k));
      },
    });
  }

  // ---- per batch ------------------------------------------------------------
  const batchSize = new Histogram({
    name: 'sipwall_verdict_batch_size',
    help: 'Packets per batch handed to the verdict engine.',
    buckets: BATCH_SIZE_BUCKETS,
    registers,
  });
  const batchSeconds = new Histogram({
    name: 'sipwall_verdict_batch_duration_seconds',
    help: 'Time the engine spent deciding one batch (decode, judge, bans and trusts), from its arrival in JavaScript to its verdicts.',
    buckets: BATCH_SECONDS_BUCKETS,
    registers,
  });

  return {
    registry,
    observeBatch(packets: number, seconds: number): void {
      batchSize.observe(packets);
      batchSeconds.observe(seconds);
    },
  };
}
