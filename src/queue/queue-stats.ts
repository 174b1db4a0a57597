// Counters of one queue, in the order native/nfq-layout.h (enum nfq_stat)
// fills them into a Float64Array. Doubles count exactly up to 2^53.

export const STAT_NAMES = [
  'packets', // packet messages received
  'batches', // wake-ups that received at least one packet
  'jsCalls', // batch callbacks into JavaScript
  'toJs', // packets handed to JavaScript
  'hotAccept', // hot-table hits with verdict accept
  'hotDrop', // hot-table hits with verdict drop
  'hotTrust', // hot-table hits with verdict trust
  'tcpEmptyAccept', // payload-less TCP segments accepted in C
  'verdictSends', // sendto() calls carrying verdicts
  'verdictMessages', // netlink verdict messages (a range verdict counts once)
  'enobufs', // ENOBUFS: the kernel could not queue messages to us
  'jsErrors', // callbacks that threw or could not run
  'jsUnanswered', // packets the callback left without a valid verdict (accepted)
  'truncated', // packets cut by copyRange
  'gso', // GSO aggregates
  'accepted', // accept verdicts, trust included
  'dropped', // drop verdicts
  'trusted', // trust verdicts
  'failOpenOther', // accepted undecided: while opening/closing, unparsable
  'recvErrors', // receive failures other than EAGAIN/ENOBUFS
  'sendErrors', // verdict sends that failed
  'verdictErrors', // kernel error answers to verdicts
  'parseErrors', // packet messages that failed to parse
  'hotEntries', // gauge: hot-table entries in use (expired ones until reclaimed)
] as const;

export type StatName = (typeof STAT_NAMES)[number];
export type QueueStats = Readonly<Record<StatName, number>>;

export const STATS_COUNT = STAT_NAMES.length;

/** Index of each counter in the Float64Array, for callers polling without objects. */
export const STAT_INDEX: Readonly<Record<StatName, number>> = Object.freeze(
  Object.fromEntries(STAT_NAMES.map((n, i) => [n, i])) as Record<StatName, number>,
);

export function statsFromArray(a: Float64Array): QueueStats {
  const out = {} as Record<StatName, number>;
  for (let i = 0; i < STATS_COUNT; i++) out[STAT_NAMES[i] as StatName] = a[i] ?? 0;
  return Object.freeze(out);
}
