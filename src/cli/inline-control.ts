// What the control socket can do to a running sipwall: report, ban, unban,
// trust, reload. One source (an IPv4 address, or an IPv6 address or prefix
// at the tracking length) goes through the engine, the kernel set, the
// native hot table and the state file, like a ban the engine made itself.
// A wider network goes to the kernel set only (hash:net takes CIDRs): it is
// dropped before the queue, and lives as long as its timeout or the run;
// the run's list of them (network-bans.ts) is what `sipwall bans` shows.

import type { BanStore } from '../engine/ban-store.js';
import type { Engine } from '../engine/engine.js';
import { REASON_NAMES, R_MANUAL } from '../engine/reasons.js';
import { type SourceKey, sourceKeyFromText, sourceKeyText } from '../engine/source-key.js';
import { errorCode, UsageError } from '../errors.js';
import { networkText, type BanSet, type KernelOptions, type NetworkBans } from '../kernel/index.js';
import { CidrSet, insideOf, parseCidr, type ParsedCidr } from '../packet/address.js';
import { readKernelQueueStats } from '../queue/kernel-queue-stats.js';
import { hotTtl, HOT_TTL_MAX_MS, type NfQueue } from '../queue/nfqueue.js';
import { VERDICT_DROP, VERDICT_TRUST } from '../queue/queue-batch.js';
import type { LoopCounters } from '../queue/verdict-loop.js';
import { DEFAULT_BANS_LISTED, type ControlReply, type ControlRequest } from './control-protocol.js';
import type { Logger } from './logger.js';

export interface InlineParts {
  engine: Engine;
  queue: NfQueue;
  bans: () => BanSet | null;
  /** Networks banned by the admin (kernel set only). */
  networks: NetworkBans;
  store: BanStore;
  counters: LoopCounters;
  kernel: KernelOptions;
  files: () => string[];
  log: Logger;
  startedAt: number;
  reload: () => Promise<{ ok: boolean; message: string }>;
  /** Times the rules watchdog put the kernel rules back (rules-watchdog.ts). */
  rulesRestored: () => number;
}

/** What the trust of a network lifted: engine bans, networks banned by hand, kernel set entries (and those the ipset pipe refused). */
interface Lifted {
  engine: number;
  networks: number;
  kernel: number;
  refused: number;
}

/**
 * How long `trust NET` waits for the bans inside the network to be lifted
 * before it answers (they go on being lifted, and the log says when they
 * are): the control connection's deadline is 10 s.
 */
const LIFT_WAIT_MS = 7000;

function sum(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

export function controlHandler(p: InlineParts): (req: ControlRequest) => Promise<ControlReply> {
  const v6 = (): number => p.engine.rules.ipv6PrefixLength;
  const target = (text: string) => {
    const c = parseCidr(text);
    if (c === null) throw new UsageError(`${JSON.stringify(text)} is not an IP address or CIDR`);
    const key = sourceKeyFromText(text, v6());
    return { c, key };
  };
  /**
   * Takes `c` out of the native hot table. The table keys IPv4 addresses and
   * IPv6 /64s (what the verdict loop puts there for an engine decision):
   * an address, or a prefix of at least /64 while sources are tracked at
   * /64 or narrower, is the one entry holding it; anything wider may span
   * many entries, and the table is emptied (it is a cache: the kernel sets
   * still drop banned sources and the engine decides the rest).
   */
  const forgetHot = (c: ParsedCidr): void => {
    const one = c.family === 4 ? c.prefix === 32 : c.prefix >= 64 && v6() >= 64;
    if (one) p.queue.hotDelete(c.bytes, c.family);
    else p.queue.hotClear();
  };
  /**
   * Lifts every ban, the engine's and the kernel set's, on a source or
   * network inside `c`. The kernel set is read too, for what the engine no
   * longer holds (bans past bans.maxEntries, a crashed run's networks); the
   * read yields between pipe reads (BanSet.scan).
   */
  const liftBansWithin = async (c: ParsedCidr, now: number): Promise<Lifted> => {
    const within = new CidrSet();
    within.add(c);
    const inside = insideOf(c);
    // Keys, not their text: an IPv4 key is the address; an IPv6 key is the
    // source's prefix at the tracking length (source-key.ts).
    const bytes = new Uint8Array(16);
    const keyInside = (key: SourceKey): boolean => {
      if (typeof key === 'number') {
        if (c.family !== 4) return false;
        bytes[0] = key >>> 24;
        bytes[1] = (key >>> 16) & 0xff;
        bytes[2] = (key >>> 8) & 0xff;
        bytes[3] = key & 0xff;
        return within.has(bytes, 0, 4);
      }
      if (c.family !== 6 || v6() < c.prefix) return false;
      bytes.fill(0);
      for (let i = 0; i < key.length && i < 16; i++) bytes[i] = key.charCodeAt(i);
      return within.has(bytes, 0, 6);
    };
    const lifted: SourceKey[] = [];
    for (const [key] of p.engine.bans.entries(now)) if (keyInside(key)) lifted.push(key);
    // What leaves the kernel set: those sources, and what a read of the set finds inside `c`.
    const out = new Set<string>();
    for (const key of lifted) {
      p.engine.bans.unban(key, now);
      out.add(sourceKeyText(key, v6()));
    }
    const networks = p.networks.removeWithin(c).length;
    p.store.changed();
    const set = p.bans();
    if (set === null) return { engine: lifted.length, networks, kernel: 0, refused: 0 };
    await set.scan((e) => {
      if (inside(parseCidr(e.cidr))) out.add(e.cidr);
    });
    // In slices (the ipset pipe queues 65,536 changes and refuses the rest).
    const taken = await set.removeAll([...out], (queued, of) => p.log.warn('trust', { message: 'the ipset pipe is behind; lifting the rest of the bans anyway', queued, of }));
    await set.flushed(60_000);
    return { engine: lifted.length, networks, kernel: out.size, refused: out.size - taken };
  };
  return async (req) => {
    const now = Date.now();
    switch (req.cmd) {
      case 'status': {
        const s = p.queue.stats();
        const byReason: Record<string, { accept: number; drop: number }> = {};
        REASON_NAMES.forEach((name, i) => {
          const a = p.counters.accepted[i]!;
          const d = p.counters.dropped[i]!;
          if (a + d > 0) byReason[name] = { accept: a, drop: d };
        });
        return {
          ok: true,
          pid: process.pid,
          uptimeSeconds: Math.round((now - p.startedAt) / 1000),
          mode: p.kernel.failOpen ? 'fail-open' : 'fail-closed',
          queue: p.kernel.queueNum,
          ports: `${p.kernel.ports.from}-${p.kernel.ports.to}`,
          tlsPorts: p.kernel.tlsPorts,
          files: p.files(),
          packets: { total: s.packets, toEngine: s.toJs, accepted: sum(p.counters.accepted), dropped: sum(p.counters.dropped), byReason },
          nativeHotHits: { drop: s.hotDrop, accept: s.hotAccept + s.hotTrust, tcpEmpty: s.tcpEmptyAccept },
          queueHealth: { enobufs: s.enobufs, jsErrors: s.jsErrors, kernel: readKernelQueueStats(p.kernel.queueNum) },
          bansActive: p.engine.bans.activeCount(now),
          trustedSources: p.engine.trust.activeCount(now),
          trackedSources: p.engine.rates.size,
          rulesRestored: p.rulesRestored(),
        };
      }
      case 'bans': {
        // The `limit` newest are listed, all are counted (DEFAULT_BANS_LISTED says why).
        const limit = req.limit ?? DEFAULT_BANS_LISTED;
        const list = [];
        let total = p.engine.bans.activeCount(now);
        for (const [key, r] of p.engine.bans.newest(now, limit)) {
          list.push({ source: sourceKeyText(key, v6()), reason: REASON_NAMES[r.reason], rule: r.ruleId, secondsLeft: Math.ceil((r.until - now) / 1000), hits: r.hits, offences: r.offences });
        }
        // Networks banned by the admin live in the kernel set only, and in
        // the run's list of them: the kernel set is not read (see network-bans.ts).
        for (const n of p.networks.active(now)) {
          total++;
          if (list.length < limit) list.push({ source: n.cidr, reason: 'manual', rule: '', secondsLeft: Math.ceil((n.until - now) / 1000), hits: 0, offences: 1 });
        }
        // What the kernel sets hold, counted from their headers: they also
        // drop sources the engine no longer lists (past bans.maxEntries).
        const kernelEntries = (await p.bans()?.size().catch(() => null)) ?? null;
        return { ok: true, bans: list, total, kernelEntries };
      }
      case 'ban': {
        const { c, key } = target(req.target);
        const set = p.bans();
        if (key !== null) {
          p.engine.bans.ban(key, now, R_MANUAL, req.reason, req.seconds);
          if (c.family === 4 || c.prefix <= 64) p.queue.hotSet(c.bytes, c.family, VERDICT_DROP, hotTtl(req.seconds * 1000));
          p.store.changed();
        }
        // add() returns false when the ban set refuses (IPv6 off, queue full: the reason is logged).
        let inKernel = set?.add(key !== null ? sourceKeyText(key, v6()) : req.target, req.seconds) ?? false;
        if (key === null) {
          // A network ban lives in the kernel set only: refused there, it is
          // nowhere. Queued is not taken (a full set refuses it later:
          // "Hash is full"), so it is listed once the kernel is seen to hold it.
          if (inKernel && set !== null && (await set.flushed(LIFT_WAIT_MS))) inKernel = await set.has(req.target);
          if (!inKernel) return { ok: false, error: `the kernel ban set did not take ${req.target} (see sipwall's log)`, code: 'SIPWALL_ERR_KERNEL' };
          p.networks.add(c, now + req.seconds * 1000);
        }
        p.log.warn('ban', { source: req.target, seconds: req.seconds, reason: 'manual', rule: req.reason, by: 'admin' });
        const banned = key !== null ? sourceKeyText(key, v6()) : networkText(c);
        return { ok: true, banned, seconds: req.seconds, scope: key !== null ? 'source' : 'network (kernel set only)', kernelSet: inKernel };
      }
      case 'unban': {
        const { c, key } = target(req.target);
        let was = false;
        if (key !== null) {
          was = p.engine.bans.unban(key, now);
          forgetHot(c);
          p.store.changed();
        }
        const outOfKernel = p.bans()?.remove(key !== null ? sourceKeyText(key, v6()) : req.target) ?? false;
        if (key === null && !outOfKernel) return { ok: false, error: `the kernel ban set did not take the unban of ${req.target} (see sipwall's log)`, code: 'SIPWALL_ERR_KERNEL' };
        if (key === null) was = p.networks.remove(c);
        p.log.info('unban', { source: req.target, by: 'admin' });
        return { ok: true, unbanned: req.target, wasBanned: was, kernelSet: outOfKernel };
      }
      case 'trust': {
        const { c, key } = target(req.target);
        // Trusted first: from here no new ban starts inside it (the engine
        // checks the trusted list before any rule that bans).
        forgetHot(c);
        p.engine.extraTrusted.add(c);
        let lifted: Lifted | string | null = null;
        if (key !== null) {
          p.engine.bans.unban(key, now);
          p.bans()?.remove(sourceKeyText(key, v6()));
          p.store.changed();
        } else {
          // A network: every ban inside it goes (the engine checks bans before trust).
          const lifting = liftBansWithin(c, now);
          const timer = new Promise<null>((resolve) => setTimeout(resolve, LIFT_WAIT_MS, null).unref());
          const failed = (e: unknown): string => `failed: ${(e as Error).message} (the trust holds; unban what is left by hand)`;
          lifted = (await Promise.race([lifting.catch(failed), timer])) ?? 'in progress (see the log: trust-lifted)';
          lifting.then(
            (r) => {
              forgetHot(c); // a drop the native tier learnt while the bans were being lifted
              p.log.info('trust-lifted', { source: req.target, ...r });
            },
            (e: unknown) => p.log.error('trust-lifted', { source: req.target, message: (e as Error).message, code: errorCode(e) }),
          );
        }
        // The hot table holds IPv4 addresses and IPv6 /64s: use it only when that is exactly what is trusted.
        // Not a /64 holding a blocked host: the hot table would answer it in C (CompiledRules.blockedInside64).
        const blockedNeighbour = c.family === 6 && p.engine.rules.blockedInside64.has(c.bytes, 0, 6);
        if (((c.family === 4 && c.prefix === 32) || (c.family === 6 && c.prefix === 64)) && !blockedNeighbour) p.queue.hotSet(c.bytes, c.family, VERDICT_TRUST, HOT_TTL_MAX_MS);
        p.log.info('trust', { source: req.target, by: 'admin', until: 'restart' });
        return { ok: true, trusted: req.target, until: 'restart (put it in trusted: in the rules file to keep it)', ...(lifted !== null ? { lifted } : {}) };
      }
      case 'reload': {
        const r = await p.reload();
        return r.ok ? { ok: true, message: r.message } : { ok: false, error: r.message, code: 'SIPWALL_ERR_CONFIG' };
      }
    }
  };
}
