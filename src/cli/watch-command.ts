// `sipwall watch --interface IF`: shadow mode. The same engine, fed by a live
// libpcap capture (the `cap` package) instead of the queue: nothing is
// inline, nothing is dropped or installed. It logs what it would drop and ban
// (every line marked "dryRun": true) and prints a summary when stopped. This
// is how an admin tries sipwall on a live PBX before enforcing it.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { Decision } from '../engine/decision.js';
import { Engine } from '../engine/engine.js';
import { REASON_NAMES } from '../engine/reasons.js';
import { sourceKeyText } from '../engine/source-key.js';
import { VERDICT_DROP } from '../engine/verdicts.js';
import { NativeError, SipwallError, UsageError } from '../errors.js';
import { formatIp } from '../packet/address.js';
import { decodeIp } from '../packet/decode-ip.js';
import { CAPTURE_OK, linkToIp, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW } from '../packet/link-layer.js';
import { DECODE_OK, PacketView } from '../packet/packet-view.js';
import { parseListenAddress } from '../metrics/listen-address.js';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import { createSipwallMetrics } from '../metrics/sipwall-metrics.js';
import { LoopCounters } from '../queue/verdict-loop.js';
import { compileRules } from '../rules/compile-rules.js';
import { loadConfig } from '../rules/load-config.js';
import { KIND_REQUEST, METHOD_NAMES } from '../sip/constants.js';
import { Logger } from './logger.js';
import { parseFlags, parsePortRange } from './parse-flags.js';
import { configSource } from './start-command.js';

export const WATCH_HELP = `Usage: sipwall watch --interface IF [options]

Shadow mode: judges live SIP traffic on an interface with the same rules as
sipwall start, but changes nothing: no kernel rule, no drop, no ban. Logs
what it would drop and ban (JSON lines marked "dryRun": true) and prints a
summary on SIGINT/SIGTERM. Needs CAP_NET_RAW (or root) to capture.

Options:
  -i, --interface IF  the interface to capture on (e.g. eth0, or any)
  -c, --config FILE   the admin's rules file (default /etc/sipwall/sipwall.yaml if present)
      --defaults      use the shipped defaults only
      --ports RANGE   SIP ports (default: the rules file's inline.ports)
  -h, --help          this text`;

interface CapInstance {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  on(ev: 'packet', fn: (nbytes: number, truncated: boolean) => void): void;
  close(): void;
}

const LINK_TYPES: Record<string, number> = { ETHERNET: LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL: LINKTYPE_LINUX_SLL, RAW: LINKTYPE_RAW };
const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;

function loadCap(): new () => CapInstance {
  try {
    return (createRequire(import.meta.url)('cap') as { Cap: new () => CapInstance }).Cap;
  } catch (e) {
    throw new NativeError(`the cap package (libpcap) is not available: ${(e as Error).message}; run npm install (needs libpcap-dev)`);
  }
}

/** Inbound SIP only, like the inline path: to the SIP ports and not from this host's own addresses. */
function ownAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .map((a) => a?.address)
    .filter((a): a is string => a !== undefined && !a.includes('%'));
}

/** What the kernel rules would queue: SIP to this host from others, and (watchAnswers) what this host sends from the SIP ports. */
function bpfFilter(lo: number, hi: number, own: string[], answers: boolean): string {
  if (own.length === 0) return `(udp or tcp) and dst portrange ${lo}-${hi}`;
  const hosts = `(${own.join(' or ')})`;
  const inbound = `(dst portrange ${lo}-${hi} and not src host ${hosts})`;
  return answers ? `(udp or tcp) and (${inbound} or (src portrange ${lo}-${hi} and src host ${hosts}))` : `(udp or tcp) and ${inbound}`;
}

export async function runWatch(argv: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseFlags('watch', argv, {
    interface: { type: 'string', short: 'i' },
    config: { type: 'string', short: 'c' },
    defaults: { type: 'boolean' },
    ports: { type: 'string' },
  });
  if (values.help === true) {
    out(WATCH_HELP);
    return 0;
  }
  const ifname = values.interface;
  if (ifname === undefined) throw new UsageError('sipwall watch: --interface is required (see sipwall watch --help)');
  // "." and ".." pass the character check and name /sys/class/net itself, which exists.
  if (!IFNAME.test(ifname) || ifname === '.' || ifname === '..') throw new UsageError(`sipwall watch: ${JSON.stringify(ifname)} is not an interface name`);
  const loaded = loadConfig(configSource(values, 'watch'));
  const [lo, hi] = parsePortRange('watch', values.ports ?? loaded.config.inline.ports);
  // Checked before libpcap sees the name: the cap addon can crash at exit
  // after a failed open (seen with an unknown device), so don't fail there.
  if (ifname !== 'any' && !existsSync(`/sys/class/net/${ifname}`)) {
    throw new UsageError(`sipwall watch: no interface named ${ifname} (see ip link)`);
  }
  const Cap = loadCap();
  const log = new Logger();
  for (const w of loaded.warnings) log.warn('config-warning', { message: w, dryRun: true });
  const engine = new Engine(compileRules(loaded.config));
  const view = new PacketView();
  const d = new Decision();
  const loc = { ipOff: 0, ipLen: 0 };
  const buffer = Buffer.alloc(65535);
  const own = ownAddresses();
  const ownSet = new Set(own);
  const cap = new Cap();
  let linkName: string;
  try {
    linkName = cap.open(ifname, bpfFilter(lo, hi, own, loaded.config.answers.watch), 16 * 1024 * 1024, buffer);
  } catch (e) {
    throw new NativeError(`sipwall watch: cannot capture on ${ifname}: ${(e as Error).message}`);
  }
  const linkType = LINK_TYPES[linkName];
  if (linkType === undefined) {
    cap.close();
    throw new NativeError(`sipwall watch: ${ifname} has link type ${linkName}, which sipwall cannot read`);
  }
  // The same metrics as inline, every series labelled mode="dry-run".
  const counters = new LoopCounters();
  let metricsServer: MetricsServer | null = null;
  if (loaded.config.metrics.enabled) {
    const listen = parseListenAddress(loaded.config.metrics.listen);
    if (listen === null) throw new SipwallError(`metrics.listen: not an address:port: ${JSON.stringify(loaded.config.metrics.listen)}`, 'SIPWALL_ERR_CONFIG');
    const metrics = createSipwallMetrics({ counters, engine, readQueueStats: () => false, kernelQueue: () => null });
    metrics.registry.setDefaultLabels({ mode: 'dry-run' });
    try {
      metricsServer = await startMetricsServer(listen, metrics.registry);
    } catch (e) {
      cap.close();
      throw e;
    }
  }
  const sum = { packets: 0, wouldAccept: 0, wouldDrop: 0, wouldBan: 0, undecodable: 0, byReason: {} as Record<string, number> };
  cap.on('packet', (nbytes) => {
    if (linkToIp(linkType, buffer, 0, nbytes, loc) !== CAPTURE_OK || decodeIp(buffer, loc.ipOff, loc.ipLen, view) !== DECODE_OK) {
      sum.undecodable++;
      return;
    }
    const fam = view.family as 4 | 6;
    // The filter lets through only this host's own packets from the SIP ports: its answers.
    if (ownSet.has(formatIp(view.buf, view.srcOff, fam))) engine.observe(view, Date.now(), d);
    else engine.decide(view, Date.now(), d);
    counters.count(d);
    sum.packets++;
    const reason = REASON_NAMES[d.reason]!;
    sum.byReason[reason] = (sum.byReason[reason] ?? 0) + 1;
    if (d.verdict === VERDICT_DROP) sum.wouldDrop++;
    else sum.wouldAccept++;
    if (d.ban) {
      sum.wouldBan++;
      log.warn('ban', { dryRun: true, source: sourceKeyText(d.source, engine.rules.ipv6PrefixLength), seconds: d.banSeconds, reason, rule: d.ruleId });
    } else if (d.verdict === VERDICT_DROP) {
      log.info('drop', { dryRun: true, source: formatIp(view.buf, view.srcOff, fam), reason, rule: d.ruleId, method: d.kind === KIND_REQUEST ? METHOD_NAMES[d.method] : undefined });
    }
  });
  log.lifecycle('watch', { dryRun: true, interface: ifname, link: linkName, ports: `${lo}-${hi}`, files: loaded.files, metrics: metricsServer?.url ?? null });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  cap.close();
  await metricsServer?.close();
  log.lifecycle('watch-summary', { dryRun: true, signal, ...sum });
  return 0;
}
