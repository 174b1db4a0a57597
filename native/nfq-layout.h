/*
 * Layout of the memory shared between the addon and JavaScript, and the
 * numbers both sides must agree on. src/queue/ mirrors every value here and
 * checks NFQ_ABI_VERSION, NFQ_STAT_COUNT and NFQ_DESC_STRIDE at load time, so
 * a stale build/Release/sipwall_nfq.node is refused instead of misread.
 */
#ifndef SIPWALL_NFQ_LAYOUT_H
#define SIPWALL_NFQ_LAYOUT_H

#define NFQ_ABI_VERSION 2

/* Verdicts JavaScript writes into the shared Uint8Array, one per packet. */
enum nfq_verdict {
	NFQ_VERDICT_ACCEPT = 0,
	NFQ_VERDICT_DROP = 1,
	/* Accept and mark the flow trusted (connmark / packet mark = trustMark). */
	NFQ_VERDICT_TRUST = 2,
	/* Accept and set watchMark in the packet mark: a kernel rule copies it
	 * to the connection, whose answers the kernel then queues. */
	NFQ_VERDICT_WATCH = 3,
	/* Pre-filled before each call: still there afterwards means "no answer",
	 * which fails open (accept) and is counted. */
	NFQ_VERDICT_UNSET = 255,
};

/* Int32 fields per packet descriptor in the shared Int32Array. */
enum nfq_desc_field {
	NFQ_DESC_ID = 0,       /* kernel packet id (u32 stored as int32) */
	NFQ_DESC_OFFSET = 1,   /* offset of the IP header in the data Buffer */
	NFQ_DESC_CAPLEN = 2,   /* bytes captured (<= copyRange) */
	NFQ_DESC_ORIGLEN = 3,  /* length of the packet in the kernel */
	NFQ_DESC_FLAGS = 4,    /* NFQ_PKT_* bits */
	NFQ_DESC_IFINDEX = 5,  /* input interface index, 0 if none */
	NFQ_DESC_HOOK = 6,     /* netfilter hook (NF_INET_*) */
	NFQ_DESC_MARK = 7,     /* skb mark (u32 stored as int32) */
	NFQ_DESC_STRIDE = 8,
};

enum nfq_pkt_flag {
	NFQ_PKT_IPV6 = 1 << 0,
	/* caplen < origlen: copyRange cut the packet. */
	NFQ_PKT_TRUNCATED = 1 << 1,
	/* NFQA_SKB_GSO: an aggregated packet delivered whole (NFQA_CFG_F_GSO). */
	NFQ_PKT_GSO = 1 << 2,
	/* NFQA_SKB_CSUMNOTREADY: checksum left for the NIC/kernel to fill in;
	 * do not verify it. */
	NFQ_PKT_CSUM_NOT_READY = 1 << 3,
	/* NFQA_SKB_CSUM_NOTVERIFIED: nobody has checked the checksum yet. */
	NFQ_PKT_CSUM_NOT_VERIFIED = 1 << 4,
};

/* Option bits passed by JavaScript to open(). */
enum nfq_open_flag {
	NFQ_OPEN_FAIL_OPEN = 1 << 0,
	NFQ_OPEN_GSO = 1 << 1,
	NFQ_OPEN_TCP_EMPTY_ACCEPT = 1 << 2,
};

/* Counters filled by stats(handle, Float64Array). */
enum nfq_stat {
	NFQ_STAT_PACKETS = 0,         /* packet messages received */
	NFQ_STAT_BATCHES,             /* wake-ups that received >= 1 packet */
	NFQ_STAT_JS_CALLS,            /* batch callbacks into JavaScript */
	NFQ_STAT_TO_JS,               /* packets handed to JavaScript */
	NFQ_STAT_HOT_ACCEPT,          /* hot-table hits, verdict accept */
	NFQ_STAT_HOT_DROP,            /* hot-table hits, verdict drop */
	NFQ_STAT_HOT_TRUST,           /* hot-table hits, verdict trust */
	NFQ_STAT_TCP_EMPTY,           /* payload-less TCP accepted in C */
	NFQ_STAT_VERDICT_SENDS,       /* sendto() calls carrying verdicts */
	NFQ_STAT_VERDICT_MSGS,        /* netlink verdict messages sent */
	NFQ_STAT_ENOBUFS,             /* ENOBUFS from recv: kernel lost messages */
	NFQ_STAT_JS_ERRORS,           /* callback threw or could not run */
	NFQ_STAT_JS_UNANSWERED,       /* packets JS left without a valid verdict */
	NFQ_STAT_TRUNCATED,           /* packets cut by copyRange */
	NFQ_STAT_GSO,                 /* packets flagged NFQA_SKB_GSO */
	NFQ_STAT_ACCEPTED,            /* accept verdicts (trust included) */
	NFQ_STAT_DROPPED,             /* drop verdicts */
	NFQ_STAT_TRUSTED,             /* trust verdicts */
	NFQ_STAT_FAIL_OPEN_OTHER,     /* accepted undecided: during open/close, unparsable */
	NFQ_STAT_RECV_ERRORS,         /* recv failures other than EAGAIN/ENOBUFS */
	NFQ_STAT_SEND_ERRORS,         /* verdict sends that failed */
	NFQ_STAT_VERDICT_ERRORS,      /* NLMSG_ERROR answers to our verdicts */
	NFQ_STAT_PARSE_ERRORS,        /* packet messages that failed to parse */
	NFQ_STAT_HOT_ENTRIES,         /* gauge: hot-table entries in use */
	NFQ_STAT_COUNT
};

#endif
