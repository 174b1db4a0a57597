// The batch handed to the engine once per wake-up, and the layout of its
// shared memory. Mirrors native/nfq-layout.h; native-addon.ts refuses an
// addon whose layout differs.
//
// Packet i (0 <= i < count) is described by desc[i * DESC_STRIDE + DESC_*];
// its bytes, from the IP header on, are
// data[desc[i*DESC_STRIDE+DESC_OFFSET] .. + desc[i*DESC_STRIDE+DESC_CAPLEN]].
// The callback writes verdicts[i] before it returns: the addon sends the
// verdicts right after, so nothing may be kept or answered later. Any index
// still VERDICT_UNSET (or holding another value) is accepted and counted as
// unanswered. All of it is overwritten by the next batch.

/** Kernel packet id (u32 kept in an int32: read with `>>> 0`). */
export const DESC_ID = 0;
/** Offset of the IP header in `data`. */
export const DESC_OFFSET = 1;
/** Bytes captured (at most copyRange). */
export const DESC_CAPLEN = 2;
/** Length of the whole packet in the kernel; > caplen when FLAG_TRUNCATED. */
export const DESC_ORIGLEN = 3;
/** FLAG_* bits. */
export const DESC_FLAGS = 4;
/** Input interface index, 0 if none (locally generated). */
export const DESC_IFINDEX = 5;
/** Netfilter hook the packet was queued from (NF_INET_LOCAL_IN = 1, FORWARD = 2, ...). */
export const DESC_HOOK = 6;
/** DESC_HOOK of a packet queued from OUTPUT (NF_INET_LOCAL_OUT, linux/netfilter.h): one the PBX sends. */
export const HOOK_LOCAL_OUT = 3;
/** skb mark (u32 kept in an int32). */
export const DESC_MARK = 7;
/** Int32 fields per packet. */
export const DESC_STRIDE = 8;

export const FLAG_IPV6 = 1 << 0;
/** copyRange cut the packet: caplen < origlen. */
export const FLAG_TRUNCATED = 1 << 1;
/** A GSO/GRO aggregate delivered whole (option gso). */
export const FLAG_GSO = 1 << 2;
/** Checksum to be completed by the kernel/NIC (NFQA_SKB_CSUMNOTREADY): do not verify it. */
export const FLAG_CSUM_NOT_READY = 1 << 3;
/** Checksum not verified by anybody yet (NFQA_SKB_CSUM_NOTVERIFIED). */
export const FLAG_CSUM_NOT_VERIFIED = 1 << 4;

// One set of verdict codes for the engine, this binding and native/ (nfq-layout.h).
import { VERDICT_ACCEPT, VERDICT_ACCEPT_TRUST, VERDICT_ACCEPT_WATCH, VERDICT_DROP } from '../engine/verdicts.js';

export { VERDICT_ACCEPT, VERDICT_DROP };
/** Accept and set watchMark on the packet, so the connection's answers are queued. */
export const VERDICT_WATCH = VERDICT_ACCEPT_WATCH;
/** Accept and mark the flow with trustMark, so kernel rules can let it skip the queue. */
export const VERDICT_TRUST = VERDICT_ACCEPT_TRUST;
/** What every verdict slot holds when the callback starts. */
export const VERDICT_UNSET = 255;

export type Verdict = typeof VERDICT_ACCEPT | typeof VERDICT_DROP | typeof VERDICT_TRUST | typeof VERDICT_WATCH;

/** The same object on every call; only `count` and the array contents change. */
export interface QueueBatch {
  readonly count: number;
  readonly data: Buffer;
  readonly desc: Int32Array;
  readonly verdicts: Uint8Array;
}
