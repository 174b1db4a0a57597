// One NFQUEUE queue, read in batches by the native addon.
//
//   const q = NfQueue.open({ queueNum: 100 }, (b) => {
//     for (let i = 0; i < b.count; i++) b.verdicts[i] = decide(b.data, b.desc, i);
//   });
//
// The callback runs once per wake-up of the netlink socket with every packet
// that C could not decide itself (hot-table sources, TCP pure ACKs), and
// must answer synchronously: verdicts are sent as soon as it returns. If it
// throws, or leaves a packet unanswered, that packet is accepted (fail-open:
// a firewall bug must not cut a PBX off) and counted in stats().
//
// VERDICT_TRUST accepts and sets the trustMark bits (OR: other bits of the
// marks are kept) of the flow. When the kernel has the nfnetlink conntrack
// glue (CONFIG_NETFILTER_NETLINK_GLUE_CT), the verdict sets them in the
// connmark itself (NFQA_CT / CTA_MARK + CTA_MARK_MASK) and `conntrackMark` is
// true. Otherwise (distribution kernels usually enable it; minimal ones may not) only
// the packet mark gets them (NFQA_MARK) and a rule in a later hook must copy
// them to the connection, e.g. in the security table, which runs after mangle
// and filter on INPUT (priority 50):
//   iptables -t security -A INPUT -m mark --mark 0x5157/0x5157 -j CONNMARK --or-mark 0x5157
// The packet mark is set in both cases, so that rule is harmless everywhere.
// Then `-m connmark --mark 0x5157/0x5157` before the NFQUEUE rule lets the
// rest of the flow skip the queue.

import { KernelError, NativeError, PermissionError, QueueError, type SipwallError } from '../errors.js';
import {
  loadNativeAddon,
  OPEN_FAIL_OPEN,
  OPEN_GSO,
  OPEN_TCP_EMPTY_ACCEPT,
  type NativeAddon,
  type NativeHandle,
} from './native-addon.js';
import { VERDICT_TRUST, type QueueBatch, type Verdict, type VERDICT_WATCH } from './queue-batch.js';
import { validateQueueOptions, type QueueOptions } from './queue-options.js';
import { STATS_COUNT, statsFromArray, type QueueStats } from './queue-stats.js';

/** Longest hot-table entry lifetime: the native side keeps it as u32 milliseconds (~49 days). */
export const HOT_TTL_MAX_MS = 0xffffffff;

/** What NfQueue.hotSet() checks before calling into C; throws QueueError. */
export function checkHotSet(addr: Uint8Array, family: 4 | 6, verdict: number, ttlMs: number): void {
  checkAddress(addr, family);
  if (verdict !== 0 && verdict !== 1 && verdict !== VERDICT_TRUST) {
    throw new QueueError(`hot table: verdict must be 0, 1 or 2, got ${String(verdict)}`);
  }
  if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > HOT_TTL_MAX_MS) {
    throw new QueueError(`hot table: ttlMs must be an integer in 1..${HOT_TTL_MAX_MS}, got ${String(ttlMs)}`);
  }
}

/**
 * A hot-table TTL for a decision lasting `ms`: at most HOT_TTL_MAX_MS (49.7
 * days). A longer ban (bans.maxSeconds allows a year) is cut short only in
 * the hot table, a cache in front of the engine and the kernel ban set,
 * which both hold the whole ban; hotSet() refuses the uncut value.
 */
export function hotTtl(ms: number): number {
  return Math.min(HOT_TTL_MAX_MS, Math.max(1, Math.ceil(ms)));
}

function nativeCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function mapNativeError(err: unknown): SipwallError {
  const message = err instanceof Error ? err.message : String(err);
  switch (nativeCode(err)) {
    case 'NFQ_BUSY':
      return new QueueError(message, { cause: err });
    case 'NFQ_PERM':
      return new PermissionError(message);
    case 'NFQ_KERNEL':
      return new KernelError(message, { cause: err });
    case 'NFQ_CLOSED':
      return new QueueError(message, { cause: err });
    default:
      return new NativeError(`NFQUEUE addon: ${message}`, { cause: err });
  }
}

function checkAddress(addr: unknown, family: unknown): asserts addr is Uint8Array {
  if (family !== 4 && family !== 6) throw new QueueError(`hot table: family must be 4 or 6, got ${String(family)}`);
  if (!(addr instanceof Uint8Array) || addr.length !== (family === 4 ? 4 : 16)) {
    throw new QueueError(`hot table: an IPv${family} address must be a Uint8Array of ${family === 4 ? 4 : 16} bytes`);
  }
}

/** The one QueueBatch of a queue: the addon only changes `count` and the array contents. */
class MutableQueueBatch implements QueueBatch {
  count = 0;
  constructor(
    readonly data: Buffer,
    readonly desc: Int32Array,
    readonly verdicts: Uint8Array,
  ) {}
}

export class NfQueue {
  /** The validated options, defaults filled in. */
  readonly options: QueueOptions;
  /** VERDICT_TRUST sets the connmark itself (see the header comment); false: packet mark only. */
  readonly conntrackMark: boolean;
  /** Netlink receive buffer as the kernel reports it (twice the usable bytes, socket(7)). */
  readonly rcvBufBytes: number;

  readonly #addon: NativeAddon;
  readonly #handle: NativeHandle;
  readonly #statsBuf = new Float64Array(STATS_COUNT);
  #closed = false;
  #lastError: unknown = undefined;

  private constructor(addon: NativeAddon, handle: NativeHandle, options: QueueOptions) {
    this.#addon = addon;
    this.#handle = handle;
    this.options = options;
    this.conntrackMark = handle.conntrack;
    this.rcvBufBytes = handle.rcvBufBytes;
  }

  /**
   * Binds the queue and starts reading it on the event loop. Throws ConfigError
   * (bad option, before anything native happens), QueueError (queue bound by
   * another socket), PermissionError (no CAP_NET_ADMIN), KernelError, NativeError.
   */
  static open(opts: Partial<QueueOptions>, onBatch: (b: QueueBatch) => void): NfQueue {
    const options = validateQueueOptions(opts);
    if (typeof onBatch !== 'function') throw new QueueError('NfQueue.open: onBatch must be a function');
    const addon = loadNativeAddon();
    const flags =
      (options.failOpen ? OPEN_FAIL_OPEN : 0) |
      (options.gso ? OPEN_GSO : 0) |
      (options.tcpEmptyAccept ? OPEN_TCP_EMPTY_ACCEPT : 0);

    // The native callback needs the batch, which needs the handle open() returns.
    let batch: MutableQueueBatch | undefined;
    let queue: NfQueue | undefined;
    const nativeOnBatch = (count: number): void => {
      if (batch === undefined) return; // cannot happen: no wake-up before open() returns
      batch.count = count;
      try {
        onBatch(batch);
      } catch (err) {
        // Rethrown so the addon counts it (jsErrors) and fails the batch open.
        if (queue !== undefined) queue.#lastError = err;
        throw err;
      } finally {
        // A batch array whose memory was transferred away (postMessage,
        // structuredClone) reads as empty: the addon can no longer share it,
        // and closes the queue after this batch (nfq-addon.c); say so here too.
        if (queue !== undefined && (batch.data.length === 0 || batch.desc.length === 0 || batch.verdicts.length === 0)) {
          queue.#lastError ??= new QueueError(`NFQUEUE ${options.queueNum}: a batch buffer was transferred away; the queue is closed`);
          queue.close();
        }
      }
    };

    let handle: NativeHandle;
    try {
      handle = addon.open(
        options.queueNum,
        options.maxLen,
        options.copyRange,
        flags,
        options.rcvBufBytes,
        options.batchSize,
        options.trustMark,
        options.watchMark,
        options.hotMaxEntries,
        nativeOnBatch,
      );
    } catch (err) {
      throw mapNativeError(err);
    }
    batch = new MutableQueueBatch(handle.data, handle.desc, handle.verdicts);
    queue = new NfQueue(addon, handle, options);
    return queue;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The last exception thrown by the batch callback (those batches were failed open). */
  get lastError(): unknown {
    return this.#lastError;
  }

  /**
   * Accepts what is still queued to us, unbinds the queue and stops reading.
   * Idempotent. Called from inside the callback, it takes effect once that
   * batch's verdicts are sent. Counters stay readable.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#addon.close(this.#handle);
    } catch (err) {
      throw mapNativeError(err);
    }
  }

  /**
   * Decide in C, for ttlMs, every packet from this source: an IPv4 address
   * exactly, or the /64 an IPv6 address belongs to (one host usually owns a
   * whole /64, RFC 4291 2.5.1). Returns false when the table is full of live
   * entries (hotMaxEntries).
   */
  hotSet(addr: Uint8Array, family: 4 | 6, verdict: Exclude<Verdict, typeof VERDICT_WATCH>, ttlMs: number): boolean {
    this.#checkOpen();
    checkHotSet(addr, family, verdict, ttlMs);
    return this.#native(() => this.#addon.hotSet(this.#handle, addr, family, verdict, ttlMs));
  }

  /** Removes the entry for this source (IPv6: its /64). Returns whether there was one. */
  hotDelete(addr: Uint8Array, family: 4 | 6): boolean {
    this.#checkOpen();
    checkAddress(addr, family);
    return this.#native(() => this.#addon.hotDelete(this.#handle, addr, family));
  }

  hotClear(): void {
    this.#checkOpen();
    this.#native(() => this.#addon.hotClear(this.#handle));
  }

  /** Copies the counters into `out` (STAT_INDEX order): no allocation, for frequent polling. */
  readStats(out: Float64Array): Float64Array {
    if (!(out instanceof Float64Array) || out.length < STATS_COUNT) {
      throw new QueueError(`readStats needs a Float64Array of at least ${STATS_COUNT} elements`);
    }
    this.#native(() => this.#addon.stats(this.#handle, out));
    return out;
  }

  stats(): QueueStats {
    return statsFromArray(this.readStats(this.#statsBuf));
  }

  #checkOpen(): void {
    if (this.#closed) throw new QueueError(`NFQUEUE ${this.options.queueNum} is closed`);
  }

  #native<T>(call: () => T): T {
    try {
      return call();
    } catch (err) {
      throw mapNativeError(err);
    }
  }
}

// One import for users of the queue.
export * from './queue-batch.js';
export { QUEUE_DEFAULTS, validateQueueOptions, type QueueOptions } from './queue-options.js';
export { STAT_INDEX, STAT_NAMES, type QueueStats, type StatName } from './queue-stats.js';
