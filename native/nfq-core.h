/*
 * One NFQUEUE queue over a libmnl netlink socket, in the manner of
 * libnetfilter_queue's examples/nf-queue.c, with no N-API in sight: open and
 * configure, receive a batch with recvmmsg() into one preallocated buffer,
 * decide what C can decide (hot table, empty TCP), describe the rest for
 * JavaScript, then send every verdict of the batch in one sendto().
 */
#ifndef SIPWALL_NFQ_CORE_H
#define SIPWALL_NFQ_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hot-table.h"
#include "nfq-layout.h"

#define NFQ_MAX_BATCH 1024 /* UIO_MAXIOV: recvmmsg()'s vlen limit */
#define NFQ_MAX_COPY_RANGE 65535

struct nfq_config {
	uint16_t queue_num;
	uint32_t max_len;
	uint32_t copy_range;
	uint32_t flags; /* NFQ_OPEN_* */
	uint32_t rcvbuf_bytes;
	uint32_t batch;
	uint32_t trust_mark;
	uint32_t watch_mark; /* 0: NFQ_VERDICT_WATCH is a plain accept */
	uint32_t hot_max_entries;
};

/* How open() failed, for the addon to pick the JS error code. */
enum nfq_open_error {
	NFQ_OPEN_OK = 0,
	NFQ_OPEN_E_BUSY,   /* queue bound by another socket */
	NFQ_OPEN_E_PERM,   /* no CAP_NET_ADMIN */
	NFQ_OPEN_E_KERNEL, /* any other socket/netlink failure */
	NFQ_OPEN_E_NOMEM,
};

struct nfq_rec {
	uint32_t id;
	uint32_t mark; /* skb mark as queued, for the trust verdict to OR into */
	uint8_t verdict;
	uint8_t pad;
	uint16_t js_index; /* NFQ_REC_C when C decided */
};
#define NFQ_REC_C 0xffff

struct mnl_socket;
struct mnl_nlmsg_batch;

struct nfq_core {
	struct nfq_config cfg;
	struct mnl_socket *nl;
	int fd;
	uint32_t seq;
	/* The kernel has the conntrack glue: trust also sets CTA_MARK. */
	int conntrack;
	int rcvbuf_effective;

	/* Receive memory (owned by the JavaScript data Buffer): batch slots. */
	uint8_t *rx;
	size_t slot;
	struct mmsghdr *mmsg;
	struct iovec *iov;

	/* This batch. */
	struct nfq_rec *recs;
	uint32_t nrecs;
	uint32_t njs;
	/* A packet message whose id could not be read: it stays queued in the
	 * kernel, so no drop may be sent as a range verdict that would cover it. */
	int unknown_id;
	/* Packets queued before this batch may still lack a verdict (a verdict
	 * send failed, or a packet's id could not be read): the next flush
	 * first answers every queued id before its own with one range verdict
	 * of the fail mode's (nfq_core_finish), so that a range verdict meant
	 * for later packets cannot cover them by accident. */
	int behind;
	/* The newest packet id seen, and whether any was (for the close). */
	uint32_t last_id;
	int seen_any;
	int draining;
	int32_t *desc;     /* shared Int32Array memory */
	uint8_t *verdicts; /* shared Uint8Array memory */

	/* Verdict messages, sent in one sendto(). */
	char *tx;
	size_t tx_limit;
	struct mnl_nlmsg_batch *txb;

	struct hot_table hot;
	double stats[NFQ_STAT_COUNT];
};

/* Bytes of receive memory one packet message may take. */
size_t nfq_slot_size(uint32_t copy_range);

/* rx must hold cfg->batch * nfq_slot_size() bytes, desc cfg->batch *
 * NFQ_DESC_STRIDE int32, verdicts cfg->batch bytes; all stay owned by the
 * caller. On failure writes a message to err and returns NFQ_OPEN_E_*, with
 * everything already released. */
int nfq_core_open(struct nfq_core *c, const struct nfq_config *cfg, uint8_t *rx, int32_t *desc,
		  uint8_t *verdicts, char *err, size_t errlen);

/* One recvmmsg() and its parsing. Returns the number of packets waiting for
 * JavaScript (their verdicts pre-set to NFQ_VERDICT_UNSET), or -1 when nothing
 * was received. Call nfq_core_finish() after any return >= 0. */
int nfq_core_receive(struct nfq_core *c, uint64_t now_ns);

/* Collect the JavaScript verdicts (unset or invalid ones fail open) and send
 * every verdict of the batch. */
void nfq_core_finish(struct nfq_core *c);

/* Accept what is already queued to us (bounded), then close the socket and
 * free what nfq_core_open() allocated. Counters stay readable. */
void nfq_core_close(struct nfq_core *c);

uint64_t nfq_now_ns(void);

#endif
