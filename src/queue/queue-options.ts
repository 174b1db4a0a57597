// Options of one NFQUEUE queue, validated completely before the native addon
// is loaded or called (the better-sqlite3 split: JavaScript checks, C trusts).
// An unknown key is an error, not ignored: a misspelt `batchsize` silently
// falling back to the default is how a firewall ends up misconfigured.

import { ConfigError } from '../errors.js';

export interface QueueOptions {
  /** NFQUEUE number, as in `-j NFQUEUE --queue-num N`. */
  queueNum: number;
  /** Packets the kernel holds for us before it drops them (or accepts them, with failOpen). */
  maxLen: number;
  /** Bytes of each packet copied to userspace, from the IP header. */
  copyRange: number;
  /** NFQA_CFG_F_FAIL_OPEN: when the queue is full, the kernel accepts instead of dropping. */
  failOpen: boolean;
  /**
   * NFQA_CFG_F_GSO: take GSO/GRO aggregates whole instead of having the kernel
   * segment them first. Their checksum may be partial (FLAG_CSUM_NOT_READY).
   */
  gso: boolean;
  /** Netlink socket receive buffer (SO_RCVBUFFORCE as root, else SO_RCVBUF capped by rmem_max). */
  rcvBufBytes: number;
  /** Packets read per wake-up (one recvmmsg), and the size of the shared arrays. */
  batchSize: number;
  /** Mark given to a flow on VERDICT_TRUST (connmark, and the packet mark). */
  trustMark: number;
  /**
   * Packet mark bits set on VERDICT_WATCH (a kernel rule copies them to the
   * connection, whose answers are then queued); 0: VERDICT_WATCH is a plain
   * accept. Must not share bits with trustMark.
   */
  watchMark: number;
  /** Accept payload-less TCP segments in C (pure ACKs, window updates: they cannot carry SIP); SYN, FIN and RST still go to the engine, which follows connections by them. */
  tcpEmptyAccept: boolean;
  /** Capacity of the hot-IP table; hotSet() returns false beyond it. */
  hotMaxEntries: number;
}

export const QUEUE_DEFAULTS: Readonly<Omit<QueueOptions, 'queueNum'>> = Object.freeze({
  maxLen: 4096,
  copyRange: 65535,
  failOpen: true,
  gso: true,
  rcvBufBytes: 8 * 1024 * 1024,
  batchSize: 128,
  trustMark: 0x5157,
  watchMark: 0,
  tcpEmptyAccept: true,
  hotMaxEntries: 65536,
});

/** Where option errors say they come from (ConfigError's `file`). */
export const QUEUE_OPTIONS_SOURCE = 'NfQueue.open options';

type IntSpec = { kind: 'int'; min: number; max: number };
type BoolSpec = { kind: 'bool' };

const SPECS: Readonly<Record<keyof QueueOptions, IntSpec | BoolSpec>> = {
  queueNum: { kind: 'int', min: 0, max: 65535 },
  // The kernel keeps the queue length in a u32; beyond 2^20 packets the
  // memory held in the kernel (whole skbs) is the problem, not the counter.
  maxLen: { kind: 'int', min: 1, max: 1 << 20 },
  // copy_range is a u32 but a netlink attribute holds at most 64 KiB
  // (nfqnl_set_mode() caps it at NFQNL_MAX_COPY_RANGE).
  copyRange: { kind: 'int', min: 1, max: 65535 },
  failOpen: { kind: 'bool' },
  gso: { kind: 'bool' },
  rcvBufBytes: { kind: 'int', min: 64 * 1024, max: 1 << 30 },
  // recvmmsg() takes at most UIO_MAXIOV (1024) messages per call.
  batchSize: { kind: 'int', min: 1, max: 1024 },
  // 0 is "no mark" in the kernel: it could not tell trusted flows apart.
  trustMark: { kind: 'int', min: 1, max: 0xffffffff },
  watchMark: { kind: 'int', min: 0, max: 0xffffffff },
  tcpEmptyAccept: { kind: 'bool' },
  // native/hot-table.h HOT_TABLE_MAX_ENTRIES.
  hotMaxEntries: { kind: 'int', min: 1, max: 1 << 20 },
};

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/** Checks every key and fills defaults. Throws ConfigError naming the key. */
export function validateQueueOptions(opts: unknown): QueueOptions {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new ConfigError(QUEUE_OPTIONS_SOURCE, '', `must be an object, got ${describe(opts)}`);
  }
  const proto: unknown = Object.getPrototypeOf(opts);
  if (proto !== Object.prototype && proto !== null) {
    throw new ConfigError(QUEUE_OPTIONS_SOURCE, '', 'must be a plain object');
  }
  const input = opts as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(SPECS, key)) {
      throw new ConfigError(QUEUE_OPTIONS_SOURCE, key, `unknown option (known: ${Object.keys(SPECS).join(', ')})`);
    }
  }
  if (input.queueNum === undefined) {
    throw new ConfigError(QUEUE_OPTIONS_SOURCE, 'queueNum', 'is required');
  }
  const out: Record<string, number | boolean> = { ...QUEUE_DEFAULTS };
  for (const [key, spec] of Object.entries(SPECS)) {
    const v = input[key];
    if (v === undefined) continue;
    if (spec.kind === 'bool') {
      if (typeof v !== 'boolean') throw new ConfigError(QUEUE_OPTIONS_SOURCE, key, `must be true or false, got ${describe(v)}`);
    } else if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min || v > spec.max) {
      throw new ConfigError(QUEUE_OPTIONS_SOURCE, key, `must be an integer in ${spec.min}..${spec.max}, got ${describe(v)}`);
    }
    out[key] = v;
  }
  if (((out.watchMark as number) & (out.trustMark as number)) !== 0) {
    throw new ConfigError(QUEUE_OPTIONS_SOURCE, 'watchMark', 'shares bits with trustMark: a watched flow would look trusted');
  }
  return Object.freeze(out) as unknown as QueueOptions;
}
