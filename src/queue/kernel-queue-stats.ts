// The kernel's own counters for our NFQUEUE, from
// /proc/net/netfilter/nfnetlink_queue: one line per bound queue in the
// reader's network namespace, printed by seq_show() in
// net/netfilter/nfnetlink_queue.c as
//
//   queue_number peer_portid queue_total copy_mode copy_range queue_dropped user_dropped id_sequence 1
//
// - queue_total: packets waiting for a verdict right now (a gauge).
// - queue_dropped: packets dropped because queue_total had reached
//   queue_maxlen (inline.queueMaxLen). __nfqnl_enqueue_packet() counts them
//   only without NFQA_CFG_F_FAIL_OPEN: with fail-open (inline.failOpen, the
//   default) an overflowing packet is accepted unfiltered and counted nowhere
//   in the kernel; only our ENOBUFS counter (socket buffer overrun) hints at it.
// - user_dropped: packets dropped because nfnetlink_unicast() to our socket
//   failed (its receive buffer was full); again only without fail-open.
// - id_sequence: the id given to the last packet queued (u32, wraps at 2^32):
//   packets the kernel handed to the queue since it was bound.
// The instance (and these counters) is created when sipwall binds the queue
// and destroyed when it unbinds: they start from 0 at each start.

import { readFileSync } from 'node:fs';

export const NFQUEUE_PROC_FILE = '/proc/net/netfilter/nfnetlink_queue';

export interface KernelQueueStats {
  /** netlink port id of the socket bound to the queue. */
  peerPortId: number;
  waiting: number;
  copyMode: number;
  copyRange: number;
  queueDropped: number;
  userDropped: number;
  idSequence: number;
}

/** The line of `queueNum` in the file's text, or null when the queue is not bound. */
export function parseKernelQueueStats(text: string, queueNum: number): KernelQueueStats | null {
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const n = f.slice(0, 8).map(Number);
    if (n.some((v) => !Number.isInteger(v) || v < 0)) continue;
    if (n[0] !== queueNum) continue;
    return { peerPortId: n[1]!, waiting: n[2]!, copyMode: n[3]!, copyRange: n[4]!, queueDropped: n[5]!, userDropped: n[6]!, idSequence: n[7]! };
  }
  return null;
}

/**
 * Reads the proc file. null when the queue is not bound, and also when the
 * file does not exist (nfnetlink_queue not loaded: nothing is bound then).
 */
export function readKernelQueueStats(queueNum: number, file = NFQUEUE_PROC_FILE): KernelQueueStats | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  return parseKernelQueueStats(text, queueNum);
}
