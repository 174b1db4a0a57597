// `sipwall start`: runs inline in the foreground (systemd-friendly, JSON logs
// on stdout). Order matters for the PBX:
//   1. load and validate the rules, check privilege, listen on metrics.listen:
//      nothing changed yet;
//   2. bind the queue (so no packet is diverted to an unbound queue);
//   3. install the kernel rules (packets start flowing to us);
//   4. open the ban stream to ipset.
// On SIGTERM/SIGINT: remove the rules first (SIP stops being diverted), then
// close the queue (what is still queued is accepted) and the ban stream: the
// host is left as it was found. On SIGHUP: reload the rules, keep all state;
// a bad file is refused and the old rules stay in force. If the process is
// killed, the kernel rules stay and the configured fail mode applies
// (fail-open: --queue-bypass lets SIP through; fail-closed: SIP is dropped)
// until the next start, which finds and replaces them.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BanStore } from '../engine/ban-store.js';
import { Engine } from '../engine/engine.js';
import { sourceKeyFromText, sourceKeyText } from '../engine/source-key.js';
import { errorCode, SipwallError } from '../errors.js';
import { BanSet, checkPrivilege, installRules, needsRenewal, NetworkBans, removeRules, RENEW_EVERY_MS } from '../kernel/index.js';
import { savedRulesetsWithOurs } from '../kernel/saved-rulesets.js';
import { startInlineMetrics } from '../metrics/inline-metrics.js';
import type { Family } from '../kernel/render-rules.js';
import { parseCidr } from '../packet/address.js';
import { hotTtl, NfQueue, VERDICT_DROP } from '../queue/nfqueue.js';
import { VerdictLoop, type HotTable } from '../queue/verdict-loop.js';
import { compileRules } from '../rules/compile-rules.js';
import { loadConfig, type LoadOptions } from '../rules/load-config.js';
import { loadConfigAsync } from '../rules/load-config-async.js';
import { kernelOptions, queueOptions } from './inline-options.js';
import { startControlServer, stopControlServer } from './control-server.js';
import { controlHandler } from './inline-control.js';
import { collectBeforeInline, gcWarning } from './gc-tuning.js';
import { Logger } from './logger.js';
import { RulesWatchdog } from './rules-watchdog.js';
import { parseFlags } from './parse-flags.js';

export const START_HELP = `Usage: sipwall start [options]

Puts sipwall inline: installs the kernel rules, binds the NFQUEUE and judges
SIP until stopped. Runs in the foreground and logs JSON lines to stdout.
Needs root or CAP_NET_ADMIN (and CAP_NET_RAW with the legacy iptables backend).

Signals: SIGTERM/SIGINT stop and remove every rule sipwall installed;
SIGHUP reloads the rules file (a bad file is refused, the old rules stay).

Options:
  -c, --config FILE   the admin's rules file (default /etc/sipwall/sipwall.yaml if present)
      --defaults      use the shipped defaults only
  -h, --help          this text`;

export function configSource(values: { config?: string | undefined; defaults?: boolean | undefined }, command: string): LoadOptions {
  if (values.config !== undefined && values.defaults === true) {
    throw new SipwallError(`sipwall ${command}: --config and --defaults exclude each other`, 'SIPWALL_ERR_USAGE');
  }
  return { configFile: values.defaults === true ? null : values.config };
}

export async function runStart(argv: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseFlags('start', argv, { config: { type: 'string', short: 'c' }, defaults: { type: 'boolean' } });
  if (values.help === true) {
    out(START_HELP);
    return 0;
  }
  const source = configSource(values, 'start');
  const loaded = loadConfig(source);
  checkPrivilege();
  // Signals are caught from here on, before anything is changed: Node's
  // default action for SIGTERM, SIGINT and SIGHUP kills the process, which
  // during the setup would leave the rules in place (a 'systemctl reload'
  // right after 'enable --now' sends SIGHUP, and systemd restarts nothing
  // after a death by SIGHUP), and during the stop would cut the removal of
  // the rules short. A stop asked for during the setup happens once the
  // setup is done (or at once if nothing is installed yet); repeated stop
  // signals, and SIGHUP while not running, are ignored.
  const sig: Signals = { stop: null, wake: null, reload: null };
  const onStop = (signal: NodeJS.Signals): void => {
    if (sig.stop !== null) return;
    sig.stop = signal;
    sig.wake?.(signal);
  };
  const onHup = (): void => sig.reload?.();
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  try {
    return await runInline(source, loaded, sig);
  } finally {
    process.removeListener('SIGTERM', onStop);
    process.removeListener('SIGINT', onStop);
    process.removeListener('SIGHUP', onHup);
  }
}

/** Stop and reload requests, caught by runStart before anything is changed. */
interface Signals {
  /** The first stop signal received, if any. */
  stop: NodeJS.Signals | null;
  /** Called with it when it arrives while serving. */
  wake: ((signal: NodeJS.Signals) => void) | null;
  /** What SIGHUP does: null outside of serving (ignored). */
  reload: (() => void) | null;
}

/** Config keys a reload cannot apply (see reload in runInline). */
const RESTART_KEYS: ReadonlyArray<readonly string[]> = [
  ['inline'], // the kernel rules, the queue
  ['ipv6PrefixLength'], // how IPv6 sources are keyed in every table and in the saved bans
  ['stateFile'],
  ['control'],
  ['metrics'],
  ['answers', 'watch'], // the kernel's out chain
  ['answers', 'unknownUserStatus'], // the kernel's answer prefilter
  ['maxTrackedSources'], // tables sized once
  ['bans', 'maxEntries'],
];

/** Copies each of RESTART_KEYS from `running` into `next`; returns the dotted names of those that differed. */
function pinRestartKeys(next: Record<string, unknown>, running: Record<string, unknown>): string[] {
  const changed: string[] = [];
  for (const path of RESTART_KEYS) {
    let to = next;
    let from = running;
    for (const k of path.slice(0, -1)) {
      to = to[k] as Record<string, unknown>;
      from = from[k] as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (JSON.stringify(to[last]) !== JSON.stringify(from[last])) changed.push(path.join('.'));
    to[last] = from[last];
  }
  return changed;
}

async function runInline(source: LoadOptions, loaded: ReturnType<typeof loadConfig>, sig: Signals): Promise<number> {
  const log = new Logger();
  const gc = gcWarning();
  if (gc !== null) log.warn('gc-memory-reducer', { message: gc });
  for (const w of loaded.warnings) log.warn('config-warning', { message: w });
  const kopts = kernelOptions(loaded.config);
  for (const file of savedRulesetsWithOurs()) {
    log.warn('saved-ruleset', {
      file,
      message: `${file} holds sipwall's rules (saved while sipwall ran): at boot their ban set does not exist yet, iptables-restore stops at them, and the tables after them (your filter rules) are not loaded. Remove the SIPWALL lines from it, or save with sipwall stopped`,
    });
  }
  const engine = new Engine(compileRules(loaded.config));
  const store = new BanStore({
    file: loaded.config.stateFile,
    v6PrefixLength: loaded.config.ipv6PrefixLength,
    onError: (e) => log.error('state-save-failed', { file: loaded.config.stateFile, message: e.message, code: errorCode(e) }),
  });
  try {
    mkdirSync(dirname(store.file), { recursive: true, mode: 0o700 });
  } catch (e) {
    log.error('state-dir-failed', { file: store.file, message: (e as Error).message, code: errorCode(e), effect: 'bans will not survive a restart' });
  }
  const restored = store.restore(engine.bans);
  if (restored.warning !== null) log.warn('state-restore', { message: restored.warning });

  // The loop needs the queue's hot table, the queue needs the loop's callback.
  let queue: NfQueue | null = null;
  const hot: HotTable = { hotSet: (a, f, v, ttl) => queue !== null && !queue.closed && queue.hotSet(a, f, v, ttl) };
  let bans: BanSet | null = null;
  const pending: Array<[string, number]> = [];
  const banSink = {
    add: (cidr: string, seconds: number): boolean => {
      store.changed();
      if (bans === null) {
        pending.push([cidr, seconds]); // between queue open and ipset ready: keep, apply once it is
        return true;
      }
      return bans.add(cidr, seconds);
    },
  };
  const loop = new VerdictLoop(engine, hot, banSink, log);
  // Listening before the queue and the rules: a metrics port in use stops the start with nothing to undo.
  let watchdog: RulesWatchdog | null = null;
  const metrics = await startInlineMetrics(loaded.config.metrics, {
    engine,
    loop,
    queue: () => queue,
    queueNum: kopts.queueNum,
    rulesRestored: () => watchdog?.restored ?? 0,
  });
  collectBeforeInline(); // the engine's tables exist, no packet is queued yet
  if (sig.stop !== null) {
    // Stopped before anything reached the kernel: nothing to remove.
    await metrics?.close();
    log.lifecycle('stop', { signal: sig.stop, before: 'the queue and the rules' });
    return 0;
  }
  const noPrefilter = new Set<Family>();
  try {
    queue = NfQueue.open(queueOptions(loaded.config), (b) => loop.onBatch(b));
    const installed = await installRules(kopts);
    for (const f of installed.prefilterFallback) noPrefilter.add(f.family);
    if (kopts.watchAnswers && !kopts.answerPrefilter) {
      log.warn('answer-prefilter', {
        message: 'answers.unknownUserStatus lists 401 or 407, which the kernel prefilter never queues to a request without credentials: every UDP packet the PBX sends is queued and read: more CPU, nothing missed',
      });
    }
    for (const f of installed.prefilterFallback) {
      log.warn('answer-prefilter', {
        message: `IPv${f.family}: the kernel refused the answer prefilter (xt_u32 missing?), so every UDP packet the PBX sends is queued and read: more CPU, nothing missed`,
        error: f.error,
      });
    }
  } catch (e) {
    queue?.close();
    await metrics?.close();
    throw e;
  }
  bans = new BanSet({
    set4: kopts.set4,
    set6: kopts.set6,
    ipv6: kopts.ipv6,
    onError: (e) => log.error('ban-set', { message: e.message, code: errorCode(e) }),
  });
  for (const [cidr, s] of pending.splice(0)) bans.add(cidr, s);
  // Saved bans back into the kernel set (in slices, in the background: the
  // engine drops those sources meanwhile) and the hot table.
  const restoredAt = Date.now();
  void bans.addAll(
    restored.restored.map((r): [string, number] => [r.source, restoredAt + r.secondsLeft * 1000]),
    (queued, of) => log.warn('state-restore', { message: 'the ipset pipe is behind; restoring the rest of the bans anyway', queued, of }),
  );
  for (const r of restored.restored) {
    const c = parseCidr(r.source);
    if (c !== null && (c.family === 4 || c.prefix <= 64)) queue.hotSet(c.bytes, c.family, VERDICT_DROP, hotTtl(r.secondsLeft * 1000));
  }
  log.lifecycle('state-restored', { file: store.file, bans: restored.restored.length, remembered: restored.remembered, expired: restored.expired, skipped: restored.skipped });
  const banSet = bans;
  // Networks banned by hand: a crashed run's are still in a kept set. Known
  // again, they are listed, refilled and renewed like this run's.
  const networks = new NetworkBans();
  const v6Keying = engine.rules.ipv6PrefixLength;
  void networks
    .seedFrom((seed) =>
      banSet.scan((e) => {
        const c = parseCidr(e.cidr);
        // A source is the engine's (restored above); no timeout is no ban of ours.
        if (c !== null && e.secondsLeft > 0 && sourceKeyFromText(e.cidr, v6Keying) === null) seed(c, Date.now() + e.secondsLeft * 1000);
      }),
    )
    .catch((e: unknown) => log.warn('ban-set', { message: `could not read the kept ban sets for networks banned by hand: ${(e as Error).message}`, code: errorCode(e) }));
  watchdog = new RulesWatchdog({
    opts: kopts,
    noPrefilter,
    everyMs: loaded.config.inline.ruleCheckSeconds * 1000,
    log,
    // A ban set recreated empty: the engine's bans and the networks banned by hand back into it.
    refill: (sets) => {
      const v6 = engine.rules.ipv6PrefixLength;
      const now = Date.now();
      const due: Array<[string, number]> = [];
      const inSets = (text: string): boolean => sets.includes(text.includes(':') ? kopts.set6 : kopts.set4);
      for (const [key, r] of engine.bans.entries(now)) {
        const text = sourceKeyText(key, v6);
        if (inSets(text)) due.push([text, r.until]);
      }
      for (const n of networks.active(now)) if (inSets(n.cidr)) due.push([n.cidr, n.until]);
      void banSet.addAll(due, (queued, of) => log.warn('rules-restored', { message: 'the ipset pipe is behind; refilling the rest anyway', queued, of }));
      return due.length;
    },
  });

  // The kernel holds an entry 24.8 days at most: longer bans are renewed (ban-set.ts).
  // Collected first, then fed in slices the ipset pipe has room for (addAll).
  const renew = setInterval(() => {
    const now = Date.now();
    const due: Array<[string, number]> = [];
    for (const [key, r] of engine.bans.entries(now)) {
      if (needsRenewal(Math.ceil((r.until - now) / 1000))) due.push([sourceKeyText(key, engine.rules.ipv6PrefixLength), r.until]);
    }
    for (const n of networks.active(now)) if (needsRenewal(Math.ceil((n.until - now) / 1000))) due.push([n.cidr, n.until]);
    void banSet.addAll(due, (queued, of) => log.warn('ban-renewal', { message: 'the ipset pipe is behind; renewing the rest anyway', renewed: queued, of }));
  }, RENEW_EVERY_MS);
  renew.unref();

  let files = loaded.files;
  // Loading and validation run in a worker (load-config-async.ts): the queue
  // keeps being answered meanwhile; the swap itself happens between batches.
  const reload = async (): Promise<{ ok: boolean; message: string }> => {
    try {
      const next = await loadConfigAsync(source);
      // Keys read once at start (the kernel rules, the state file, the
      // sockets, how IPv6 sources are keyed in every table and in the saved
      // bans) keep their running values: half applied, they would disagree
      // with what start set up. The admin is told which.
      const pinned = pinRestartKeys(next.config as unknown as Record<string, unknown>, loaded.config as unknown as Record<string, unknown>);
      engine.setRules(compileRules(next.config));
      // The native tier's answers were the old rules' (a source trusted then may be blocked now):
      // from here the engine decides again, and refills the table as it bans and trusts.
      queue?.hotClear();
      files = next.files;
      if (pinned.length > 0) {
        log.warn('reload-restart-keys', { keys: pinned, message: `${pinned.join(', ')} changed: read at start only, the running values stay; restart sipwall to apply them` });
      }
      log.lifecycle('reload', { files: next.files });
      return { ok: true, message: `rules reloaded from ${next.files.join(', ')}` };
    } catch (e) {
      log.error('reload-refused', { message: (e as Error).message, code: errorCode(e), kept: 'previous rules' });
      return { ok: false, message: `${(e as Error).message} (the previous rules stay in force)` };
    }
  };
  const ctl = loaded.config.control;
  let control: Awaited<ReturnType<typeof startControlServer>> | null = null;
  try {
    control = await startControlServer(
      ctl.socket,
      ctl.group,
      controlHandler({ engine, queue, bans: () => bans, networks, store, counters: loop.counters, kernel: kopts, files: () => files, log, startedAt: Date.now(), reload, rulesRestored: () => watchdog?.restored ?? 0 }),
    );
  } catch (e) {
    // Filtering matters more than the control socket: carry on without it, loudly.
    log.error('control-socket-failed', { socket: ctl.socket, message: (e as Error).message, code: errorCode(e) });
  }

  log.lifecycle('start', {
    pid: process.pid,
    files: loaded.files,
    queue: kopts.queueNum,
    ports: `${kopts.ports.from}-${kopts.ports.to}`,
    failMode: kopts.failOpen ? 'open' : 'closed',
    conntrackMark: queue.conntrackMark,
    control: control !== null ? ctl.socket : null,
    metrics: metrics?.url ?? null,
  });

  sig.reload = () => void reload();
  const signal = sig.stop ?? (await new Promise<NodeJS.Signals>((resolve) => (sig.wake = resolve)));
  sig.reload = null;
  if (control !== null) await stopControlServer(control, ctl.socket);
  // Before the removal: a check racing it would put the rules back.
  await watchdog.stop();
  clearInterval(renew);
  log.lifecycle('stopping', { signal });
  let code = 0;
  try {
    await removeRules(kopts);
  } catch (e) {
    code = 71;
    log.error('cleanup-failed', { message: (e as Error).message, code: errorCode(e), hint: 'run sipwall cleanup' });
  }
  queue.close();
  store.flush();
  await bans.close();
  await metrics?.close();
  const s = queue.stats();
  log.lifecycle('stop', { packets: s.packets, toJs: s.toJs, hotDrop: s.hotDrop, hotAccept: s.hotAccept + s.hotTrust, bans: loop.counters.bans });
  return code;
}
