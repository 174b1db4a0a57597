// The collectors of src/metrics/sipwall-metrics.ts: against a fake of every
// counter they read (exact names, labels and values in the exposition text),
// and against a real engine driven through the real VerdictLoop.

import { register as globalRegistry } from 'prom-client';
import t from 'tap';
import {
  REASON_NAMES, R_BANNED, R_FINGERPRINT, R_INVALID_SIP, R_NON_SIP, R_OK, R_RATE_REGISTER, R_SCANNER_UA, R_TRUSTED,
  R_UNDECODABLE,
} from '../../src/engine/reasons.js';
import type { KernelQueueStats } from '../../src/queue/kernel-queue-stats.js';
import { BAN_REASONS, createSipwallMetrics, type MetricsSources } from '../../src/metrics/sipwall-metrics.js';
import { STAT_INDEX, STATS_COUNT, type StatName } from '../../src/queue/queue-stats.js';
import { LoopCounters } from '../../src/queue/verdict-loop.js';
import { METHOD_NAMES, M_INVITE, M_REGISTER } from '../../src/sip/constants.js';
import { configWith, engineFor, SECRET, samples } from '../helpers/engine-fixtures.js';
import { BatchFeed, parseExposition, series, sipUdp } from './batch-feed.js';

function fake() {
  const counters = new LoopCounters();
  const engine = {
    rates: { size: 0, evictions: 0 },
    banned: 0,
    trusted: 0,
    bans: { activeCount: (): number => engine.banned },
    trust: { activeCount: (): number => engine.trusted },
    flows: { size: 0, evicted: 0 },
  };
  const native = new Float64Array(STATS_COUNT);
  const setStat = (name: StatName, v: number): void => void (native[STAT_INDEX[name]] = v);
  const state = { queueUp: true, queueThrows: false, kernel: null as KernelQueueStats | null, kernelReads: 0, rulesRestored: 0 };
  const src: MetricsSources = {
    counters,
    engine,
    readQueueStats: (out) => {
      if (state.queueThrows) throw new Error('NFQUEUE 5060 is closed');
      if (!state.queueUp) return false;
      out.set(native);
      return true;
    },
    kernelQueue: () => (state.kernelReads++, state.kernel),
    rulesRestored: () => state.rulesRestored,
  };
  return { counters, engine, setStat, state, src };
}

async function scrape(m: { registry: { metrics(): Promise<string> } }): Promise<Map<string, number>> {
  return parseExposition(await m.registry.metrics());
}

t.test('each series carries the value of the counter it reads, under its documented name and labels', async (t) => {
  const f = fake();
  const c = f.counters;
  c.accepted[R_OK] = 100;
  c.accepted[R_TRUSTED] = 4;
  c.dropped[R_SCANNER_UA] = 7;
  c.dropped[R_FINGERPRINT] = 1;
  c.dropped[R_RATE_REGISTER] = 2;
  c.dropped[R_BANNED] = 30;
  c.dropped[R_NON_SIP] = 3;
  c.accepted[R_INVALID_SIP] = 1;
  c.dropped[R_INVALID_SIP] = 2;
  c.dropped[R_UNDECODABLE] = 5;
  c.methods[M_REGISTER] = 9;
  c.methods[M_INVITE] = 1;
  c.trusts = 4;
  c.hotFull = 1;
  c.errors = 2;
  Object.assign(f.engine, { banned: 2, trusted: 3 });
  f.engine.rates = { size: 42, evictions: 6 };
  f.engine.flows.size = 5;
  f.engine.flows.evicted = 2;
  const stats: Array<[StatName, number]> = [
    ['packets', 130], ['batches', 20], ['jsCalls', 18], ['toJs', 122], ['hotAccept', 1], ['hotDrop', 6], ['hotTrust', 2],
    ['tcpEmptyAccept', 1], ['verdictSends', 19], ['verdictMessages', 25], ['enobufs', 3], ['jsErrors', 1], ['jsUnanswered', 4],
    ['truncated', 2], ['gso', 0], ['accepted', 110], ['dropped', 19], ['trusted', 6], ['failOpenOther', 7], ['recvErrors', 1],
    ['sendErrors', 2], ['verdictErrors', 3], ['parseErrors', 4], ['hotEntries', 12],
  ];
  for (const [k, v] of stats) f.setStat(k, v);
  f.state.rulesRestored = 3;
  f.state.kernel = { peerPortId: 4242, waiting: 2, copyMode: 2, copyRange: 65535, queueDropped: 11, userDropped: 4, idSequence: 140 };
  const m = createSipwallMetrics(f.src);
  const s = await scrape(m);
  const v = (name: string, labels?: Record<string, string>): number | undefined => s.get(series(name, labels));

  t.equal(v('sipwall_packets_total', { verdict: 'drop', reason: 'scanner-ua' }), 7);
  t.equal(v('sipwall_packets_total', { verdict: 'drop', reason: 'banned' }), 30);
  t.equal(v('sipwall_packets_total', { verdict: 'accept', reason: 'ok' }), 100);
  t.equal(v('sipwall_packets_total', { verdict: 'accept', reason: 'trusted' }), 4);
  t.equal(v('sipwall_packets_total', { verdict: 'accept', reason: 'scanner-ua' }), 0, 'zero series exist from the start (rate() needs them)');
  const packetSeries = [...s.keys()].filter((k) => k.startsWith('sipwall_packets_total{'));
  t.equal(packetSeries.length, 2 * REASON_NAMES.length, 'one series per verdict and reason, no more');

  t.equal(v('sipwall_sip_requests_total', { method: 'REGISTER' }), 9);
  t.equal(v('sipwall_sip_requests_total', { method: 'INVITE' }), 1);
  t.equal(v('sipwall_sip_requests_total', { method: 'OTHER' }), 0);
  t.equal([...s.keys()].filter((k) => k.startsWith('sipwall_sip_requests_total{')).length, METHOD_NAMES.length);

  t.equal(v('sipwall_bans_total', { reason: 'scanner-ua' }), 7);
  t.equal(v('sipwall_bans_total', { reason: 'fingerprint' }), 1);
  t.equal(v('sipwall_bans_total', { reason: 'rate-register' }), 2);
  t.equal(v('sipwall_bans_total', { reason: 'rate-invite' }), 0);
  t.equal(v('sipwall_bans_total', { reason: 'banned' }), undefined, 'a packet from a banned source is not a new ban');
  t.equal([...s.keys()].filter((k) => k.startsWith('sipwall_bans_total{')).length, BAN_REASONS.length);

  t.equal(v('sipwall_invalid_payloads_total', { kind: 'non-sip' }), 3);
  t.equal(v('sipwall_invalid_payloads_total', { kind: 'invalid-sip' }), 3, 'accepted and dropped by policy both count');
  t.equal(v('sipwall_invalid_payloads_total', { kind: 'undecodable' }), 5);

  t.equal(v('sipwall_trusts_total'), 4);
  t.equal(v('sipwall_hot_table_full_total'), 1);
  t.equal(v('sipwall_engine_errors_total'), 2);
  t.equal(v('sipwall_bans_active'), 2);
  t.equal(v('sipwall_trusted_sources'), 3);
  t.equal(v('sipwall_tracked_sources'), 42);
  t.equal(v('sipwall_tracked_source_evictions_total'), 6);
  t.equal(v('sipwall_tcp_flows'), 5);
  t.equal(v('sipwall_tcp_flows_evicted_total'), 2);
  t.equal(v('sipwall_rules_restored_total'), 3);

  t.equal(v('sipwall_native_hot_hits_total', { verdict: 'drop' }), 6);
  t.equal(v('sipwall_native_hot_hits_total', { verdict: 'trust' }), 2);
  t.equal(v('sipwall_native_hot_hits_total', { verdict: 'accept' }), 1);
  t.equal(v('sipwall_queue_verdicts_total', { verdict: 'drop' }), 19);
  t.equal(v('sipwall_queue_verdicts_total', { verdict: 'trust' }), 6);
  t.equal(v('sipwall_queue_verdicts_total', { verdict: 'accept' }), 104, 'accept excludes trust: the labels do not overlap');
  t.equal(v('sipwall_queue_errors_total', { op: 'recv' }), 1);
  t.equal(v('sipwall_queue_errors_total', { op: 'send' }), 2);
  t.equal(v('sipwall_queue_errors_total', { op: 'verdict' }), 3);
  t.equal(v('sipwall_queue_errors_total', { op: 'parse' }), 4);
  t.equal(v('sipwall_queue_packets_total'), 130);
  t.equal(v('sipwall_queue_batches_total'), 20);
  t.equal(v('sipwall_queue_js_calls_total'), 18);
  t.equal(v('sipwall_queue_to_engine_packets_total'), 122);
  t.equal(v('sipwall_queue_tcp_empty_accepted_total'), 1);
  t.equal(v('sipwall_queue_verdict_sends_total'), 19);
  t.equal(v('sipwall_queue_verdict_messages_total'), 25);
  t.equal(v('sipwall_queue_enobufs_total'), 3);
  t.equal(v('sipwall_queue_js_errors_total'), 1);
  t.equal(v('sipwall_queue_unanswered_total'), 4);
  t.equal(v('sipwall_queue_truncated_total'), 2);
  t.equal(v('sipwall_queue_gso_total'), 0);
  t.equal(v('sipwall_queue_fail_open_total'), 7);
  t.equal(v('sipwall_hot_table_entries'), 12);

  t.equal(v('sipwall_queue_bound'), 1);
  t.equal(v('sipwall_queue_kernel_waiting'), 2);
  t.equal(v('sipwall_queue_kernel_dropped_total'), 11);
  t.equal(v('sipwall_queue_kernel_user_dropped_total'), 4);
  t.equal(v('sipwall_queue_kernel_enqueued_total'), 140);
  t.equal(f.state.kernelReads, 1, 'the proc file is read once per scrape, not once per metric');

  // Every label value of every sipwall series comes from a fixed table.
  const allowed = new Set<string>([...REASON_NAMES, ...METHOD_NAMES, 'accept', 'drop', 'trust', 'non-sip', 'invalid-sip', 'undecodable', 'recv', 'send', 'verdict', 'parse']);
  for (const k of s.keys()) {
    if (!k.startsWith('sipwall_')) continue;
    for (const [, name, value] of k.matchAll(/([a-z_]+)="([^"]*)"/g)) {
      if (name === 'le') continue;
      t.ok(allowed.has(value!), `${k}: label value ${value} is from a fixed table`);
    }
  }
});

t.test('values are read when scraped: the packet path only bumps its own numbers', async (t) => {
  const f = fake();
  const m = createSipwallMetrics(f.src);
  const key = series('sipwall_packets_total', { verdict: 'drop', reason: 'rate-all' });
  t.equal((await scrape(m)).get(key), 0);
  f.counters.dropped[REASON_NAMES.indexOf('rate-all')]! += 3;
  f.setStat('hotDrop', 9);
  f.engine.banned = 5;
  const s = await scrape(m);
  t.equal(s.get(key), 3);
  t.equal(s.get(series('sipwall_bans_total', { reason: 'rate-all' })), 3);
  t.equal(s.get(series('sipwall_native_hot_hits_total', { verdict: 'drop' })), 9);
  t.equal(s.get('sipwall_bans_active'), 5);
  f.state.kernel = { peerPortId: 1, waiting: 0, copyMode: 2, copyRange: 65535, queueDropped: 0, userDropped: 0, idSequence: 1 };
  t.equal((await scrape(m)).get('sipwall_queue_bound'), 1, 'the proc file is read again at the next scrape');
});

t.test('before the queue is bound, and while it closes, a scrape still answers', async (t) => {
  const f = fake();
  const m = createSipwallMetrics(f.src);
  f.state.queueUp = false;
  let s = await scrape(m);
  t.equal(s.get(series('sipwall_native_hot_hits_total', { verdict: 'drop' })), undefined, 'no native series without a queue');
  t.equal(s.get('sipwall_queue_packets_total'), 0);
  t.equal(s.get('sipwall_queue_bound'), 0, 'the kernel lists no queue');
  t.equal(s.get('sipwall_queue_kernel_dropped_total'), 0);
  t.equal(s.get(series('sipwall_packets_total', { verdict: 'drop', reason: 'ok' })), 0, 'engine series are there');
  f.state.queueUp = true;
  f.state.queueThrows = true;
  s = await scrape(m);
  t.equal(s.get('sipwall_queue_packets_total'), 0, 'a queue that throws does not fail the scrape');
});

t.test('a registry of its own, with the default process metrics', async (t) => {
  const a = createSipwallMetrics(fake().src);
  const b = createSipwallMetrics(fake().src); // a second one does not clash with the first
  t.equal(globalRegistry.getSingleMetric('sipwall_packets_total'), undefined, 'nothing in prom-client\'s global registry');
  t.not(a.registry, b.registry);
  const text = await a.registry.metrics();
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    t.match(text, new RegExp(`^${name} `, 'm'), `${name} is exported`);
  }
  t.match(text, /^# TYPE sipwall_packets_total counter$/m);
  t.match(text, /^# TYPE sipwall_bans_active gauge$/m);
  t.match(text, /^# TYPE sipwall_verdict_batch_duration_seconds histogram$/m);
});

t.test('batch histograms: one observation per batch', async (t) => {
  const m = createSipwallMetrics(fake().src);
  m.observeBatch(3, 0.0002);
  m.observeBatch(100, 0.004);
  const s = await scrape(m);
  t.equal(s.get('sipwall_verdict_batch_size_count'), 2);
  t.equal(s.get('sipwall_verdict_batch_size_sum'), 103);
  t.equal(s.get(series('sipwall_verdict_batch_size_bucket', { le: '2' })), 0);
  t.equal(s.get(series('sipwall_verdict_batch_size_bucket', { le: '4' })), 1);
  t.equal(s.get(series('sipwall_verdict_batch_size_bucket', { le: '128' })), 2);
  t.equal(s.get('sipwall_verdict_batch_duration_seconds_count'), 2);
  t.ok(Math.abs(s.get('sipwall_verdict_batch_duration_seconds_sum')! - 0.0042) < 1e-12);
  t.equal(s.get(series('sipwall_verdict_batch_duration_seconds_bucket', { le: '0.00025' })), 1);
  t.equal(s.get(series('sipwall_verdict_batch_duration_seconds_bucket', { le: '0.005' })), 2);
  t.equal(s.get(series('sipwall_verdict_batch_duration_seconds_bucket', { le: '+Inf' })), 2);
});

t.test('with a real engine behind the real verdict loop', async (t) => {
  const now = 1_000_000;
  const engine = engineFor(configWith({ secretHosts: [SECRET], rateLimits: { register: { limit: 3, windowSeconds: 60 } } }));
  const feed = new BatchFeed(engine, () => now);
  const m = createSipwallMetrics({ counters: feed.loop.counters, engine, readQueueStats: () => false, kernelQueue: () => null, now: () => now });
  feed.loop.batchObserver = m.observeBatch;

  const scanner = samples('friendly-scanner').find((s) => s.name.includes('register'))!.data;
  const nmAtNm = samples('ruri-nm-at-nm')[0]!.data;
  const phone = samples('rate-register')[0]!.data;
  const toSecret = samples('_legit').find((s) => s.name.includes('secret'))!.data;
  const undecodable = Buffer.from([0x45, 0x00, 0x00, 0x30, 0, 0, 0, 0, 64, 17]); // IPv4 header cut short
  const batch1 = [
    sipUdp('198.51.100.1', scanner),
    sipUdp('198.51.100.1', phone), // banned by the packet before
    sipUdp('198.51.100.2', nmAtNm),
    sipUdp('192.0.2.10', phone),
    sipUdp('192.0.2.20', toSecret),
    sipUdp('192.0.2.30', Buffer.from('80081234000000010badbeef0102030405060708', 'hex')), // RTP on the SIP port: not SIP
    sipUdp('192.0.2.31', 'GET / HTTP/1.0\r\n\r\n'), // a request line, but not SIP's: invalid SIP
    undecodable,
  ];
  const v1 = feed.batch(batch1);
  t.same(v1, [1, 1, 1, 0, 2, 1, 1, 1], 'verdicts: drop, drop, drop, accept, trust, drop, drop, drop');
  // Five REGISTERs in a minute from one phone against a limit of 3: the 4th bans it, the 5th is banned.
  const v2 = feed.batch(Array.from({ length: 5 }, () => sipUdp('192.0.2.40', phone)));
  t.same(v2, [0, 0, 0, 1, 1]);

  const text = await m.registry.metrics();
  const s = parseExposition(text);
  const v = (name: string, labels?: Record<string, string>): number | undefined => s.get(series(name, labels));
  const c = feed.loop.counters;
  t.equal(c.bans, 3, 'the loop made three bans');
  t.equal(feed.bansAdded.length, 3);
  let bans = 0;
  for (const r of BAN_REASONS) bans += v('sipwall_bans_total', { reason: REASON_NAMES[r]! })!;
  t.equal(bans, c.bans, 'sipwall_bans_total adds up to the bans the loop carried out');
  t.equal(v('sipwall_bans_total', { reason: 'scanner-ua' }), 1);
  t.equal(v('sipwall_bans_total', { reason: 'fingerprint' }), 1);
  t.equal(v('sipwall_bans_total', { reason: 'rate-register' }), 1);
  t.equal(v('sipwall_packets_total', { verdict: 'drop', reason: 'banned' }), 2);
  t.equal(v('sipwall_packets_total', { verdict: 'accept', reason: 'secret-host' }), 1);
  t.equal(v('sipwall_packets_total', { verdict: 'accept', reason: 'ok' }), 4);
  let drops = 0;
  for (const r of REASON_NAMES) drops += v('sipwall_packets_total', { verdict: 'drop', reason: r })!;
  t.equal(drops, [...v1, ...v2].filter((x) => x === 1).length, 'drops by reason add up to the drop verdicts');
  t.equal(v('sipwall_invalid_payloads_total', { kind: 'non-sip' }), 1);
  t.equal(v('sipwall_invalid_payloads_total', { kind: 'undecodable' }), 1);
  t.equal(v('sipwall_invalid_payloads_total', { kind: 'invalid-sip' }), 1);
  // Requests the engine parsed (a banned source's are dropped unread): scanner, nm@nm, phone, secret, 4 of the 5.
  const first = (b: Buffer): string => b.toString('latin1').split(' ', 1)[0]!;
  const parsed = [scanner, nmAtNm, phone, toSecret, phone, phone, phone, phone];
  t.equal(v('sipwall_sip_requests_total', { method: 'REGISTER' }), parsed.filter((b) => first(b) === 'REGISTER').length);
  t.equal(v('sipwall_sip_requests_total', { method: 'OPTIONS' }), parsed.filter((b) => first(b) === 'OPTIONS').length);
  t.equal(v('sipwall_bans_active'), 3);
  t.equal(v('sipwall_trusted_sources'), 1);
  t.equal(v('sipwall_trusts_total'), 1);
  // Rate-tracked: the sources whose requests reached the rate limits, the two phones
  // 192.0.2.10 and .40 (scanners are dropped, the secret-host sender trusted, junk judged, before that step).
  t.equal(v('sipwall_tracked_sources'), 2);
  t.equal(v('sipwall_verdict_batch_size_count'), 2, 'one observation per batch');
  t.equal(v('sipwall_verdict_batch_size_sum'), batch1.length + 5);
  t.equal(v('sipwall_verdict_batch_duration_seconds_count'), 2);
  t.ok(v('sipwall_verdict_batch_duration_seconds_sum')! > 0, 'the loop timed its batches');
  for (const needle of ['198.51.100', '192.0.2.', 'friendly-scanner', 'Zoiper', SECRET]) {
    t.notOk(text.includes(needle), `no address, User-Agent or host in the metrics: ${needle}`);
  }
});

t.test('without an observer (metrics disabled) the loop judges as before', async (t) => {
  const feed = new BatchFeed(engineFor(configWith()));
  t.equal(feed.loop.batchObserver, null);
  t.same(feed.batch([sipUdp('192.0.2.50', samples('rate-register')[0]!.data)]), [0]);
  t.equal(feed.loop.counters.accepted[R_OK], 1);
});
