// Options for what sipwall installs in the kernel (iptables/ip6tables rules
// and the two ban ipsets), their defaults, and their validation.
//
// Every value here ends up on an iptables-restore or ipset command line, so
// validation is strict and happens before anything is rendered: a set name
// with a space or a newline would otherwise inject a rule into the restore
// script.

import { ConfigError } from '../errors.js';

export type BanScope = 'sip-ports' | 'all';

export interface PortRange {
  from: number;
  to: number;
}

export interface KernelOptions {
  /** Destination ports diverted to the queue (UDP and TCP), inclusive. */
  ports: PortRange;
  /**
   * TCP ports inside `ports` where the PBX speaks SIP over TLS: not queued
   * (sipwall cannot read TLS; see render-rules.ts, "TLS ports"). Sorted,
   * unique, only those inside `ports`.
   */
  tlsPorts: readonly number[];
  /** NFQUEUE number the engine binds. */
  queueNum: number;
  /** true: --queue-bypass, SIP flows unfiltered while no process is bound; false: SIP dropped. */
  failOpen: boolean;
  /** Conntrack mark bits the engine sets on trusted flows (matched as mark/mark). */
  trustMark: number;
  /** Let flows carrying trustMark skip the queue. */
  trustSkipQueue: boolean;
  /** Also queue what the PBX sends from the SIP ports (its answers), to watch them. */
  watchAnswers: boolean;
  /**
   * Conntrack mark bits the engine sets on flows whose answers it must read
   * (a request with credentials, an INVITE): see render-rules.ts, "Answers".
   * Disjoint from trustMark.
   */
  watchMark: number;
  /**
   * Let the kernel pick the answers worth reading (xt_u32 on the status
   * line, and watchMark) instead of queuing everything the PBX sends over
   * UDP. Turned off by installRules when the kernel lacks xt_u32.
   */
  answerPrefilter: boolean;
  /** What a ban drops: only the SIP ports (default), or everything from the source. */
  banScope: BanScope;
  /** Also install ip6tables rules and the IPv6 ban set. */
  ipv6: boolean;
  /** maxelem of each ban set. */
  setMaxElem: number;
  /** Name of the IPv4 ban set. */
  set4: string;
  /** Name of the IPv6 ban set. */
  set6: string;
}

/** The iptables chains sipwall owns; fixed, so a crashed run's leftovers are always found. */
export const QUEUE_CHAIN = 'SIPWALL';
export const BAN_CHAIN = 'SIPWALL-BAN';
/** security INPUT: copies the trust mark from the packet to its connection (see render-rules.ts). */
export const MARK_CHAIN = 'SIPWALL-MARK';
/** mangle OUTPUT: queues what the PBX sends from the SIP ports (answers, watched; see render-rules.ts). */
export const OUT_CHAIN = 'SIPWALL-OUT';

/** ipset's largest timeout: IPSET_MAX_TIMEOUT = (UINT_MAX >> 1) / MSEC_PER_SEC (include/linux/netfilter/ipset/ip_set_timeout.h). */
export const IPSET_MAX_TIMEOUT = 2147483;

/**
 * Set names leave room for the "-swap" suffix used when an existing set must be
 * rebuilt with new parameters: IPSET_MAXNAMELEN is 32 bytes including the NUL.
 */
export const SWAP_SUFFIX = '-swap';
const SET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,25}$/;

export const DEFAULT_KERNEL_OPTIONS: Readonly<KernelOptions> = Object.freeze({
  ports: Object.freeze({ from: 5060, to: 5082 }),
  // RFC 3261 §26.2: a sips URI without a port means TCP 5061, over TLS.
  tlsPorts: Object.freeze([5061]),
  // Not 0: queue 0 is what Suricata (-q 0), Snort's DAQ nfq module and most
  // NFQUEUE examples use, so an IDS on the same host would collide with us (a
  // second bind of a queue fails with EBUSY). 5060 is free in practice and
  // easy to recognise in `iptables-save` and /proc/net/netfilter/nfnetlink_queue.
  queueNum: 5060,
  failOpen: true,
  trustMark: 0x5157,
  trustSkipQueue: true,
  watchAnswers: true,
  // One bit, well away from trustMark and from the low bits routing setups
  // use (fwmark 1, 2...); kube-proxy uses 0x4000/0x8000, Calico 0xffff0000.
  watchMark: 0x200000,
  answerPrefilter: true,
  banScope: 'sip-ports',
  ipv6: true,
  setMaxElem: 131072,
  set4: 'sipwall-ban4',
  set6: 'sipwall-ban6',
}) as Readonly<KernelOptions>;

const KEYS = Object.keys(DEFAULT_KERNEL_OPTIONS) as Array<keyof KernelOptions>;

/** What validateKernelOptions accepts: ports may also be "5060-5082", "5060:5082" or one port number. */
export type KernelOptionsInput = Partial<Omit<KernelOptions, 'ports'>> & { ports?: PortRange | string | number };

/** The most TLS ports: each is one rule every TCP packet to the SIP ports walks. */
export const MAX_TLS_PORTS = 16;

/** A mark as iptables writes it (and iptables-save prints it back): lower-case hex. */
export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function parsePorts(v: unknown, fail: (problem: string) => never): PortRange {
  let from: unknown;
  let to: unknown;
  if (typeof v === 'number') {
    from = v;
    to = v;
  } else if (typeof v === 'string') {
    const m = /^\s*(\d{1,5})\s*(?:[-:]\s*(\d{1,5})\s*)?$/.exec(v);
    if (m === null) fail(`expected "FROM-TO" (e.g. "5060-5082"), got ${JSON.stringify(v)}`);
    from = Number(m[1]);
    to = m[2] === undefined ? from : Number(m[2]);
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'from' && k !== 'to') fail(`unknown key "${k}" (expected from, to)`);
    from = o.from;
    to = o.to;
  } else {
    fail('expected a port range such as "5060-5082" or { from, to }');
  }
  if (!isInt(from, 1, 65535) || !isInt(to, 1, 65535)) fail('ports must be integers from 1 to 65535');
  if (from > to) fail(`range is reversed: ${from} > ${to}`);
  return { from, to };
}

/**
 * Merge `partial` over DEFAULT_KERNEL_OPTIONS and check every value. Throws
 * ConfigError (SIPWALL_ERR_CONFIG) naming `source` and the key; never returns
 * options that could render an unsafe or invalid rule.
 */
export function validateKernelOptions(partial: KernelOptionsInput = {}, source = 'kernel options'): KernelOptions {
  if (typeof partial !== 'object' || partial === null || Array.isArray(partial)) {
    throw new ConfigError(source, '', 'kernel options must be an object');
  }
  const failer = (key: string) => (problem: string): never => {
    throw new ConfigError(source, key, problem);
  };
  for (const k of Object.keys(partial)) {
    if (!(KEYS as string[]).includes(k)) failer(k)(`unknown option (known: ${KEYS.join(', ')})`);
  }
  const p = partial as Record<string, unknown>;
  const get = <K extends keyof KernelOptions>(k: K): unknown => (p[k] === undefined ? DEFAULT_KERNEL_OPTIONS[k] : p[k]);

  const ports = parsePorts(get('ports'), failer('ports'));
  const tls = get('tlsPorts');
  if (!Array.isArray(tls) || tls.length > MAX_TLS_PORTS || !tls.every((n) => isInt(n, 1, 65535))) {
    failer('tlsPorts')(`must be a list of at most ${MAX_TLS_PORTS} ports from 1 to 65535`);
  }
  // One outside `ports` is never queued anyway: dropped, so a narrowed
  // `ports` need not be matched by a narrowed tlsPorts.
  const tlsPorts = Object.freeze([...new Set(tls as number[])].filter((n) => n >= ports.from && n <= ports.to).sort((a, b) => a - b));
  const queueNum = get('queueNum');
  if (!isInt(queueNum, 0, 65535)) failer('queueNum')('must be an integer from 0 to 65535');
  const trustMark = get('trustMark');
  // Non-zero: the rule matches mark/mark, and x/0 would match every flow.
  if (!isInt(trustMark, 1, 0xffffffff)) failer('trustMark')('must be a non-zero 32-bit integer');
  const watchMark = get('watchMark');
  if (!isInt(watchMark, 1, 0xffffffff)) failer('watchMark')('must be a non-zero 32-bit integer');
  // Overlapping bits would make every watched flow look trusted (mark/mark), or the reverse.
  const [wm, tm] = [watchMark as number, trustMark as number];
  if ((wm & tm) !== 0) failer('watchMark')(`shares bits with trustMark (${hex(wm)} & ${hex(tm)}): pick disjoint bits`);
  const setMaxElem = get('setMaxElem');
  if (!isInt(setMaxElem, 1, 0xffffffff)) failer('setMaxElem')('must be an integer from 1 to 4294967295');
  const bools: Array<'failOpen' | 'trustSkipQueue' | 'watchAnswers' | 'answerPrefilter' | 'ipv6'> = ['failOpen', 'trustSkipQueue', 'watchAnswers', 'answerPrefilter', 'ipv6'];
  for (const k of bools) if (typeof get(k) !== 'boolean') failer(k)('must be true or false');
  const banScope = get('banScope');
  if (banScope !== 'sip-ports' && banScope !== 'all') failer('banScope')('must be "sip-ports" or "all"');
  const set4 = get('set4');
  const set6 = get('set6');
  for (const [k, v] of [['set4', set4], ['set6', set6]] as const) {
    if (typeof v !== 'string' || !SET_NAME.test(v)) {
      failer(k)('must be 1-26 characters of letters, digits, "_", "." or "-", not starting with "-" or "."');
    }
  }
  if (set4 === set6) failer('set6')('must differ from set4');

  return {
    ports,
    tlsPorts,
    queueNum: queueNum as number,
    failOpen: get('failOpen') as boolean,
    trustMark: trustMark as number,
    trustSkipQueue: get('trustSkipQueue') as boolean,
    watchAnswers: get('watchAnswers') as boolean,
    watchMark: watchMark as number,
    answerPrefilter: get('answerPrefilter') as boolean,
    banScope: banScope as BanScope,
    ipv6: get('ipv6') as boolean,
    setMaxElem: setMaxElem as number,
    set4: set4 as string,
    set6: set6 as string,
  };
}
