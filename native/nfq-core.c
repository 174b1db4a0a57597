#include "nfq-core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/types.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "packet-peek.h"

/* Room for every netlink attribute of a packet message except the payload
 * (header, mark, timestamp, interfaces, hardware address, conntrack, cap len,
 * skb info, uid/gid, vlan, L2 header, priority): well under 1 KiB today. */
#define NFQ_MSG_OVERHEAD 4096
/* A verdict message: nlmsghdr 16 + nfgenmsg 4 + verdict hdr 12 + mark 8 +
 * NFQA_CT nest 4 + CTA_MARK 8 + CTA_MARK_MASK 8 = 60 bytes. */
#define NFQ_VERDICT_MSG_MAX 64
#define NFQ_PACKET_MSG_TYPE ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)
#define NFQ_CFG_MASK (NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO | NFQA_CFG_F_CONNTRACK)
/* How long open() waits for the kernel's answer to the bind request; the
 * answer is queued synchronously by sendto(), so this only guards against a
 * receive buffer already full of packets. */
#define NFQ_ACK_TIMEOUT_MS 1000
#define NFQ_ACK_MAX_READS 256
#define NFQ_DRAIN_ROUNDS 16

uint64_t nfq_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

size_t nfq_slot_size(uint32_t copy_range)
{
	return ((size_t)copy_range + NFQ_MSG_OVERHEAD + 63) & ~(size_t)63;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* 1 if this process holds CAP_NET_ADMIN, 0 if not, -1 if unknown. nfnetlink
 * answers EPERM both to a caller without it and to a bind of a queue another
 * socket owns (net/netfilter/nfnetlink_queue.c, nfqnl_recv_config()). */
static int have_net_admin(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return -1;
	return (data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN)) != 0;
}

static void count_verdict(struct nfq_core *c, uint8_t v)
{
	if (v == NFQ_VERDICT_DROP) {
		c->stats[NFQ_STAT_DROPPED]++;
	} else {
		c->stats[NFQ_STAT_ACCEPTED]++;
		if (v == NFQ_VERDICT_TRUST)
			c->stats[NFQ_STAT_TRUSTED]++;
	}
}

static void flush_verdicts(struct nfq_core *c)
{
	size_t len = mnl_nlmsg_batch_size(c->txb);

	if (len == 0)
		return;
	for (int attempt = 0; attempt < 3; attempt++) {
		ssize_t r = mnl_socket_sendto(c->nl, mnl_nlmsg_batch_head(c->txb), len);
		c->stats[NFQ_STAT_VERDICT_SENDS]++;
		if (r >= 0)
			break;
		/* Transient allocation failures are worth one more try: the packets
		 * wait in the kernel until they get a verdict. */
		if ((errno != EINTR && errno != ENOBUFS && errno != ENOMEM && errno != EAGAIN) ||
		    attempt == 2) {
			c->stats[NFQ_STAT_SEND_ERRORS]++;
			c->behind = 1; /* these packets still wait in the kernel */
			break;
		}
	}
	mnl_nlmsg_batch_reset(c->txb);
}

static void put_verdict(struct nfq_core *c, int type, uint32_t id, uint8_t v, uint32_t mark)
{
	struct nlmsghdr *nlh =
		nfq_nlmsg_put(mnl_nlmsg_batch_current(c->txb), type, c->cfg.queue_num);

	nfq_nlmsg_verdict_put(nlh, (int)id, v == NFQ_VERDICT_DROP ? NF_DROP : NF_ACCEPT);
	if (v == NFQ_VERDICT_WATCH) {
		/* Our bit ORed into the packet's own mark; the security table's
		 * CONNMARK rule carries it to the connection (render-rules.ts). */
		nfq_nlmsg_verdict_put_mark(nlh, mark | c->cfg.watch_mark);
	} else if (v == NFQ_VERDICT_TRUST) {
		/* Only the trustMark bits are set, in the packet mark and in the
		 * connmark: the admin may keep other bits in either. The packet
		 * mark is set in both modes, so one kernel rule
		 * (-m mark --mark M/M -j CONNMARK --or-mark M) works everywhere. */
		nfq_nlmsg_verdict_put_mark(nlh, mark | c->cfg.trust_mark);
		if (c->conntrack) {
			/* ctnetlink_change_mark(): new = (old & ~MASK) ^ MARK. */
			struct nlattr *nest = mnl_attr_nest_start(nlh, NFQA_CT);
			mnl_attr_put_u32(nlh, CTA_MARK, htonl(c->cfg.trust_mark));
			mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(c->cfg.trust_mark));
			mnl_attr_nest_end(nlh, nest);
		}
	}
	c->stats[NFQ_STAT_VERDICT_MSGS]++;
	/* Past the limit, the batch keeps this message for after the flush. */
	if (!mnl_nlmsg_batch_next(c->txb))
		flush_verdicts(c);
}

static void add_rec(struct nfq_core *c, uint32_t id, uint8_t verdict, uint16_t js_index,
		    uint32_t mark)
{
	if (c->nrecs >= c->cfg.batch) {
		/* Cannot happen while the kernel sends one packet per datagram
		 * (nfqnl_enqueue_packet() unicasts each one); if it ever does, the
		 * packet gets an immediate accept rather than being forgotten. */
		c->stats[NFQ_STAT_FAIL_OPEN_OTHER]++;
		count_verdict(c, NFQ_VERDICT_ACCEPT);
		put_verdict(c, NFQNL_MSG_VERDICT, id, NFQ_VERDICT_ACCEPT, mark);
		return;
	}
	struct nfq_rec *r = &c->recs[c->nrecs++];
	c->last_id = id;
	c->seen_any = 1;
	r->id = id;
	r->mark = mark;
	r->verdict = verdict;
	r->pad = 0;
	r->js_index = js_index;
}

static void handle_packet(struct nfq_core *c, const struct nlmsghdr *nlh, uint64_t now_ns)
{
	struct nlattr *attr[NFQA_MAX + 1];

	memset(attr, 0, sizeof(attr));
	int parsed = nfq_nlmsg_parse(nlh, attr);
	if (attr[NFQA_PACKET_HDR] == NULL) {
		c->stats[NFQ_STAT_PARSE_ERRORS]++;
		c->unknown_id = 1;
		return;
	}
	const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	uint32_t id = ntohl(ph->packet_id);
	uint32_t mark = attr[NFQA_MARK] ? ntohl(mnl_attr_get_u32(attr[NFQA_MARK])) : 0;

	c->stats[NFQ_STAT_PACKETS]++;
	if (c->draining) {
		/* Closing: nobody will judge it. The fail mode decides, as the
		 * kernel would with the queue gone (a normal stop removed the
		 * rules already; an abnormal close left them in force). Except
		 * what the PBX sends (queued from OUTPUT to be watched): sipwall
		 * never drops that, fail-closed or not, so its answers to phones
		 * in flight at a stop still leave. */
		if ((c->cfg.flags & NFQ_OPEN_FAIL_OPEN) || ph->hook == NF_INET_LOCAL_OUT) {
			c->stats[NFQ_STAT_FAIL_OPEN_OTHER]++;
			add_rec(c, id, NFQ_VERDICT_ACCEPT, NFQ_REC_C, mark);
		} else {
			add_rec(c, id, NFQ_VERDICT_DROP, NFQ_REC_C, mark);
		}
		return;
	}
	if (parsed < 0 || attr[NFQA_PAYLOAD] == NULL) {
		c->stats[NFQ_STAT_PARSE_ERRORS]++;
		c->stats[NFQ_STAT_FAIL_OPEN_OTHER]++;
		add_rec(c, id, NFQ_VERDICT_ACCEPT, NFQ_REC_C, mark);
		return;
	}

	const uint8_t *pkt = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
	uint32_t caplen = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	/* The kernel adds NFQA_CAP_LEN only when copy_range cut the packet. */
	uint32_t origlen = attr[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) : caplen;
	uint32_t skbinfo = attr[NFQA_SKB_INFO] ? ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO])) : 0;
	int32_t flags = 0;

	if (origlen > caplen) {
		flags |= NFQ_PKT_TRUNCATED;
		c->stats[NFQ_STAT_TRUNCATED]++;
	} else {
		origlen = caplen;
	}
	if (skbinfo & NFQA_SKB_GSO) {
		flags |= NFQ_PKT_GSO;
		c->stats[NFQ_STAT_GSO]++;
	}
	if (skbinfo & NFQA_SKB_CSUMNOTREADY)
		flags |= NFQ_PKT_CSUM_NOT_READY;
	if (skbinfo & NFQA_SKB_CSUM_NOTVERIFIED)
		flags |= NFQ_PKT_CSUM_NOT_VERIFIED;

	int version = peek_ip_version(pkt, caplen);
	if (version == 6)
		flags |= NFQ_PKT_IPV6;
	/* A packet leaving the PBX (the answers sipwall watches, queued from
	 * OUTPUT): its remote party is the destination. If that party is hot,
	 * trusted or banned, there is nothing to learn from the answer: accept
	 * it here. Never a drop: watching must not filter what the PBX sends. */
	if (ph->hook == NF_INET_LOCAL_OUT) {
		if (version != 0 && c->hot.count > 0 &&
		    hot_table_lookup(&c->hot, version, peek_ip_dest(pkt, version), now_ns) >= 0) {
			c->stats[NFQ_STAT_HOT_ACCEPT]++;
			add_rec(c, id, NFQ_VERDICT_ACCEPT, NFQ_REC_C, mark);
			return;
		}
	} else if (version != 0 && c->hot.count > 0) {
		int v = hot_table_lookup(&c->hot, version, peek_ip_source(pkt, version), now_ns);
		if (v >= 0) {
			c->stats[v == NFQ_VERDICT_DROP	  ? NFQ_STAT_HOT_DROP
				 : v == NFQ_VERDICT_TRUST ? NFQ_STAT_HOT_TRUST
							  : NFQ_STAT_HOT_ACCEPT]++;
			add_rec(c, id, (uint8_t)v, NFQ_REC_C, mark);
			return;
		}
	}
	if ((c->cfg.flags & NFQ_OPEN_TCP_EMPTY_ACCEPT) && peek_tcp_empty(pkt, caplen, origlen)) {
		c->stats[NFQ_STAT_TCP_EMPTY]++;
		add_rec(c, id, NFQ_VERDICT_ACCEPT, NFQ_REC_C, mark);
		return;
	}
	if (c->njs >= c->cfg.batch || c->nrecs >= c->cfg.batch) {
		c->stats[NFQ_STAT_FAIL_OPEN_OTHER]++;
		add_rec(c, id, NFQ_VERDICT_ACCEPT, NFQ_REC_C, mark);
		return;
	}

	uint32_t j = c->njs++;
	int32_t *d = c->desc + (size_t)j * NFQ_DESC_STRIDE;
	d[NFQ_DESC_ID] = (int32_t)id;
	d[NFQ_DESC_OFFSET] = (int32_t)(pkt - c->rx);
	d[NFQ_DESC_CAPLEN] = (int32_t)caplen;
	d[NFQ_DESC_ORIGLEN] = (int32_t)origlen;
	d[NFQ_DESC_FLAGS] = flags;
	d[NFQ_DESC_IFINDEX] =
		attr[NFQA_IFINDEX_INDEV] ? (int32_t)ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV])) : 0;
	d[NFQ_DESC_HOOK] = ph->hook;
	d[NFQ_DESC_MARK] = (int32_t)mark;
	c->verdicts[j] = NFQ_VERDICT_UNSET;
	c->stats[NFQ_STAT_TO_JS]++;
	add_rec(c, id, NFQ_VERDICT_UNSET, (uint16_t)j, mark);
}

/* A datagram cut by MSG_TRUNC (a message larger than its slot: should not
 * happen with the slot sized from copy_range). The packet header is the first
 * attribute (nfqnl_build_packet_message()), so the id is usually readable and
 * the packet can still be accepted instead of waiting in the kernel forever. */
static void salvage_truncated(struct nfq_core *c, const uint8_t *buf, uint32_t len)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	size_t need = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)) + MNL_ATTR_HDRLEN +
		      sizeof(struct nfqnl_msg_packet_hdr);

	c->stats[NFQ_STAT_PARSE_ERRORS]++;
	if (len < need || nlh->nlmsg_type != NFQ_PACKET_MSG_TYPE) {
		c->unknown_id = 1;
		return;
	}
	const struct nlattr *a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	if (mnl_attr_get_type(a) != NFQA_PACKET_HDR ||
	    mnl_attr_get_payload_len(a) < sizeof(struct nfqnl_msg_packet_hdr)) {
		c->unknown_id = 1;
		return;
	}
	const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(a);
	c->stats[NFQ_STAT_PACKETS]++;
	c->stats[NFQ_STAT_FAIL_OPEN_OTHER]++;
	add_rec(c, ntohl(ph->packet_id), NFQ_VERDICT_ACCEPT, NFQ_REC_C, 0);
}

/* mnl_nlmsg_ok(), plus the length compared unsigned: libmnl 1.0.4 casts
 * nlmsg_len to int, so a length of 2^31 or more passes and the walk jumps
 * gigabytes (only the kernel or a CAP_NET_ADMIN process can write to this
 * socket, but nothing here trusts a length it has not checked). */
static bool nlmsg_fits(const struct nlmsghdr *nlh, int rem)
{
	return rem >= (int)sizeof(struct nlmsghdr) && nlh->nlmsg_len <= (uint32_t)rem && mnl_nlmsg_ok(nlh, rem);
}

static void parse_datagram(struct nfq_core *c, const uint8_t *buf, uint32_t len, int msg_flags,
			   uint64_t now_ns)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int rem = (int)len;

	if (msg_flags & MSG_TRUNC) {
		salvage_truncated(c, buf, len);
		return;
	}
	while (nlmsg_fits(nlh, rem)) {
		if (nlh->nlmsg_type == NFQ_PACKET_MSG_TYPE) {
			handle_packet(c, nlh, now_ns);
		} else if (nlh->nlmsg_type == NLMSG_ERROR) {
			/* Verdicts are sent without NLM_F_ACK: the kernel only
			 * answers a failed one (netlink_rcv_skb()), e.g. ENOENT for
			 * an id it no longer holds. */
			if (nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
				if (e->error != 0)
					c->stats[NFQ_STAT_VERDICT_ERRORS]++;
			}
		}
		nlh = mnl_nlmsg_next(nlh, &rem);
	}
}

int nfq_core_receive(struct nfq_core *c, uint64_t now_ns)
{
	int n = -1;

	c->nrecs = 0;
	c->njs = 0;
	c->unknown_id = 0;
	for (int attempt = 0; attempt < 4; attempt++) {
		/* MSG_WAITFORONE: return as soon as one message is in, with
		 * whatever else is already queued, up to the batch size. */
		n = recvmmsg(c->fd, c->mmsg, c->cfg.batch, MSG_DONTWAIT | MSG_WAITFORONE, NULL);
		if (n >= 0)
			break;
		if (errno == ENOBUFS) {
			/* The kernel could not queue some packet messages to us
			 * (receive buffer full): they were accepted (failOpen) or
			 * dropped by the kernel. The error is reported once and
			 * the queue still holds data, so read on. */
			c->stats[NFQ_STAT_ENOBUFS]++;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			c->stats[NFQ_STAT_RECV_ERRORS]++;
		return -1;
	}
	if (n <= 0)
		return -1;
	for (int i = 0; i < n; i++)
		parse_datagram(c, c->rx + (size_t)i * c->slot, c->mmsg[i].msg_len,
			       c->mmsg[i].msg_hdr.msg_flags, now_ns);
	if (c->nrecs > 0 && !c->draining)
		c->stats[NFQ_STAT_BATCHES]++;
	return (int)c->njs;
}

void nfq_core_finish(struct nfq_core *c)
{
	uint32_t n = c->nrecs;

	/* Earlier packets left without a verdict: a range verdict answers every
	 * queued id at or before the one it names (nfqnl_recv_verdict_batch()),
	 * so a drop range of this batch would drop them, and an accept range
	 * accept them, whatever was decided. Answer them first, as the fail
	 * mode says (what the kernel does with packets nobody answers), up to
	 * the id before this batch's first. */
	if (c->behind && n > 0) {
		uint8_t v = (c->cfg.flags & NFQ_OPEN_FAIL_OPEN) ? NFQ_VERDICT_ACCEPT : NFQ_VERDICT_DROP;
		put_verdict(c, NFQNL_MSG_VERDICT_BATCH, c->recs[0].id - 1, v, 0);
		c->behind = 0;
	}

	for (uint32_t i = 0; i < n; i++) {
		struct nfq_rec *r = &c->recs[i];
		if (r->js_index != NFQ_REC_C) {
			/* NULL: the verdict array was taken from us (nfq-addon.c). */
			uint8_t v = c->verdicts != NULL ? c->verdicts[r->js_index] : NFQ_VERDICT_UNSET;
			if (v == NFQ_VERDICT_WATCH && c->cfg.watch_mark == 0) {
				/* Nothing to mark: a plain accept, which batches. */
				v = NFQ_VERDICT_ACCEPT;
			} else if (v > NFQ_VERDICT_WATCH) {
				/* The callback threw, returned early or wrote
				 * nonsense: fail open rather than hold the packet. */
				v = NFQ_VERDICT_ACCEPT;
				c->stats[NFQ_STAT_JS_UNANSWERED]++;
			}
			r->verdict = v;
		}
		count_verdict(c, r->verdict);
	}

	/* Packets arrive in id order (the kernel numbers them under the queue
	 * lock and appends to its list), and every earlier batch has been
	 * answered, so a run of equal verdicts r[i..j] is exactly the set of
	 * queued ids <= r[j].id still waiting: one NFQNL_MSG_VERDICT_BATCH
	 * answers it. Messages of one sendto() are processed in order, so the
	 * singles sent before a run have already left the queue. Trust verdicts
	 * are always single: each keeps its own packet mark bits, and a range
	 * verdict carries no NFQA_CT (nfqnl_recv_verdict_batch()). */
	for (uint32_t i = 0; i < n;) {
		uint8_t v = c->recs[i].verdict;
		uint32_t j = i;
		while (j + 1 < n && c->recs[j + 1].verdict == v)
			j++;
		/* Marking verdicts are single: a range verdict carries no mark. */
		bool batchable = v != NFQ_VERDICT_TRUST && v != NFQ_VERDICT_WATCH &&
				 !(c->unknown_id && v != NFQ_VERDICT_ACCEPT);
		if (j > i && batchable) {
			put_verdict(c, NFQNL_MSG_VERDICT_BATCH, c->recs[j].id, v, 0);
		} else {
			for (uint32_t k = i; k <= j; k++)
				put_verdict(c, NFQNL_MSG_VERDICT, c->recs[k].id, v, c->recs[k].mark);
		}
		i = j + 1;
	}
	/* A packet whose id could not be read waits in the kernel: the next
	 * batch answers it (above). */
	if (c->unknown_id)
		c->behind = 1;
	flush_verdicts(c);
	c->nrecs = 0;
	c->njs = 0;
}

/* Accept a packet seen while waiting for the bind answer: JavaScript is not
 * wired yet, and holding it would stall the queue. */
static void accept_now(struct nfq_core *c, uint32_t id)
{
	char buf[NFQ_VERDICT_MSG_MAX * 2] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, c->cfg.queue_num);

	nfq_nlmsg_verdict_put(nlh, (int)id, NF_ACCEPT);
	c->stats[NFQ_STAT_VERDICT_MSGS]++;
	c->stats[NFQ_STAT_VERDICT_SENDS]++;
	c->stats[NFQ_STAT_FAIL_OPEN_OTHER]++;
	count_verdict(c, NFQ_VERDICT_ACCEPT);
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0) {
		c->stats[NFQ_STAT_SEND_ERRORS]++;
		c->behind = 1; /* still queued: the next flush answers it first */
	}
}

/* 0 or the negative errno the kernel answered to request seq. */
static int wait_ack(struct nfq_core *c, uint32_t seq)
{
	for (int reads = 0; reads < NFQ_ACK_MAX_READS; reads++) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN, .revents = 0};
		int r = poll(&pfd, 1, NFQ_ACK_TIMEOUT_MS);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t len = recv(c->fd, c->rx, c->slot, MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			if (errno == ENOBUFS) {
				c->stats[NFQ_STAT_ENOBUFS]++;
				continue;
			}
			return -errno;
		}
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)c->rx;
		int rem = (int)len;
		while (nlmsg_fits(nlh, rem)) {
			if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == seq &&
			    nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
				return e->error;
			}
			if (nlh->nlmsg_type == NFQ_PACKET_MSG_TYPE) {
				struct nlattr *attr[NFQA_MAX + 1];
				memset(attr, 0, sizeof(attr));
				/* Even a partly invalid message is answered if its
				 * id could be read. */
				(void)nfq_nlmsg_parse(nlh, attr);
				if (attr[NFQA_PACKET_HDR] != NULL) {
					const struct nfqnl_msg_packet_hdr *ph =
						mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
					c->stats[NFQ_STAT_PACKETS]++;
					accept_now(c, ntohl(ph->packet_id));
				}
			}
			nlh = mnl_nlmsg_next(nlh, &rem);
		}
	}
	return -ETIMEDOUT;
}

/* Bind the queue and set copy mode, queue length and flags in one request:
 * nfqnl_recv_config() checks the flags before binding, so a refused flag
 * leaves nothing half-configured. */
static int config_bind(struct nfq_core *c, uint32_t flags)
{
	char buf[256] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, c->cfg.queue_num);

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++c->seq;
	/* The protocol family is ignored for BIND since Linux 3.8: one queue
	 * serves IPv4 and IPv6. */
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)c->cfg.copy_range);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, c->cfg.max_len);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQ_CFG_MASK));
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return wait_ack(c, nlh->nlmsg_seq);
}

static void release(struct nfq_core *c)
{
	/* close(2) on a socket frees it even when it reports an error: there
	 * is nothing to retry or undo. */
	if (c->nl != NULL)
		(void)mnl_socket_close(c->nl);
	c->nl = NULL;
	c->fd = -1;
	if (c->txb != NULL)
		mnl_nlmsg_batch_stop(c->txb);
	c->txb = NULL;
	free(c->tx);
	c->tx = NULL;
	free(c->recs);
	c->recs = NULL;
	free(c->iov);
	c->iov = NULL;
	free(c->mmsg);
	c->mmsg = NULL;
	hot_table_free(&c->hot);
}

static int set_rcvbuf(struct nfq_core *c, char *err, size_t errlen)
{
	int v = (int)c->cfg.rcvbuf_bytes;
	socklen_t vlen = sizeof(v);

	/* SO_RCVBUFFORCE passes net.core.rmem_max but needs CAP_NET_ADMIN;
	 * without it, SO_RCVBUF is silently capped at rmem_max. */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0) {
		if (errno != EPERM) {
			set_err(err, errlen, "setsockopt(SO_RCVBUFFORCE, %u): %s", c->cfg.rcvbuf_bytes,
				strerror(errno));
			return -1;
		}
		if (setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) != 0) {
			set_err(err, errlen, "setsockopt(SO_RCVBUF, %u): %s", c->cfg.rcvbuf_bytes,
				strerror(errno));
			return -1;
		}
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &v, &vlen) != 0) {
		set_err(err, errlen, "getsockopt(SO_RCVBUF): %s", strerror(errno));
		return -1;
	}
	/* The kernel reports twice the size asked for (bookkeeping overhead,
	 * socket(7)). */
	c->rcvbuf_effective = v;
	return 0;
}

/* netlink_sendmsg() refuses a message longer than the socket's send buffer
 * less 32 bytes, with EMSGSIZE (net/netlink/af_netlink.c). One sendto()
 * carries a batch's verdicts, `need` bytes at most: were the buffer smaller,
 * every large batch's send would fail and its packets get the fail mode's
 * verdict, unjudged (fail-open) or dropped (fail-closed). net.core.wmem_default
 * is 212992 on most hosts, far above a batch of 1024 (64 KiB); a hardened
 * host may set it lower. SO_SNDBUFFORCE passes wmem_max with CAP_NET_ADMIN. */
static int fit_sndbuf(int fd, size_t need, char *err, size_t errlen)
{
	int v = 0;
	socklen_t vlen = sizeof(v);

	/* The kernel reports sk_sndbuf, twice what was asked for (socket(7)):
	 * the very figure netlink_sendmsg() compares with. */
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &vlen) != 0) {
		set_err(err, errlen, "getsockopt(SO_SNDBUF): %s", strerror(errno));
		return -1;
	}
	if (v >= 0 && (size_t)v >= need + 32)
		return 0;
	int want = (int)(need + 32);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) != 0) {
		if (errno != EPERM) {
			set_err(err, errlen, "setsockopt(SO_SNDBUFFORCE, %d): %s", want, strerror(errno));
			return -1;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) != 0) {
			set_err(err, errlen, "setsockopt(SO_SNDBUF, %d): %s", want, strerror(errno));
			return -1;
		}
	}
	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &vlen) != 0) {
		set_err(err, errlen, "getsockopt(SO_SNDBUF): %s", strerror(errno));
		return -1;
	}
	if (v < 0 || (size_t)v < need + 32) {
		set_err(err, errlen,
			"socket send buffer of %d bytes cannot hold a batch of verdicts (%zu bytes): "
			"raise net.core.wmem_max or lower inline.batchSize",
			v, need + 32);
		return -1;
	}
	return 0;
}

int nfq_core_open(struct nfq_core *c, const struct nfq_config *cfg, uint8_t *rx, int32_t *desc,
		  uint8_t *verdicts, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->cfg = *cfg;
	c->rx = rx;
	c->desc = desc;
	c->verdicts = verdicts;
	c->slot = nfq_slot_size(cfg->copy_range);

	if (cfg->batch == 0 || cfg->batch > NFQ_MAX_BATCH || cfg->copy_range == 0 ||
	    cfg->copy_range > NFQ_MAX_COPY_RANGE) {
		set_err(err, errlen, "invalid batch size or copy range");
		return NFQ_OPEN_E_KERNEL;
	}
	c->mmsg = calloc(cfg->batch, sizeof(*c->mmsg));
	c->iov = calloc(cfg->batch, sizeof(*c->iov));
	c->recs = calloc(cfg->batch, sizeof(*c->recs));
	c->tx_limit = (size_t)cfg->batch * NFQ_VERDICT_MSG_MAX + NFQ_VERDICT_MSG_MAX;
	/* mnl_nlmsg_batch writes the message that crosses the limit past it. */
	c->tx = malloc(c->tx_limit + 4 * NFQ_VERDICT_MSG_MAX);
	if (c->mmsg == NULL || c->iov == NULL || c->recs == NULL || c->tx == NULL) {
		release(c);
		set_err(err, errlen, "out of memory for a batch of %u", cfg->batch);
		return NFQ_OPEN_E_NOMEM;
	}
	c->txb = mnl_nlmsg_batch_start(c->tx, c->tx_limit);
	if (c->txb == NULL) {
		release(c);
		set_err(err, errlen, "mnl_nlmsg_batch_start: %s", strerror(errno));
		return NFQ_OPEN_E_NOMEM;
	}
	int hr = hot_table_init(&c->hot, cfg->hot_max_entries);
	if (hr != 0) {
		release(c);
		set_err(err, errlen, "hot table of %u entries: %s", cfg->hot_max_entries, strerror(-hr));
		return hr == -ENOMEM ? NFQ_OPEN_E_NOMEM : NFQ_OPEN_E_KERNEL;
	}
	for (uint32_t i = 0; i < cfg->batch; i++) {
		c->iov[i].iov_base = rx + (size_t)i * c->slot;
		c->iov[i].iov_len = c->slot;
		c->mmsg[i].msg_hdr.msg_iov = &c->iov[i];
		c->mmsg[i].msg_hdr.msg_iovlen = 1;
	}

	c->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c->nl == NULL) {
		set_err(err, errlen, "netlink socket (NETLINK_NETFILTER): %s", strerror(errno));
		release(c);
		return NFQ_OPEN_E_KERNEL;
	}
	c->fd = mnl_socket_get_fd(c->nl);
	if (mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		set_err(err, errlen, "netlink bind: %s", strerror(errno));
		release(c);
		return NFQ_OPEN_E_KERNEL;
	}
	if (set_rcvbuf(c, err, errlen) != 0 ||
	    fit_sndbuf(c->fd, c->tx_limit + 4 * NFQ_VERDICT_MSG_MAX, err, errlen) != 0) {
		release(c);
		return NFQ_OPEN_E_KERNEL;
	}

	uint32_t flags = NFQA_CFG_F_CONNTRACK;
	if (cfg->flags & NFQ_OPEN_FAIL_OPEN)
		flags |= NFQA_CFG_F_FAIL_OPEN;
	if (cfg->flags & NFQ_OPEN_GSO)
		flags |= NFQA_CFG_F_GSO;
	int r = config_bind(c, flags);
	if (r == -EAGAIN) {
		/* The kernel just loaded nf_conntrack_netlink on our behalf
		 * (request_module() in nfqnl_recv_config()): ask again. */
		r = config_bind(c, flags);
	}
	c->conntrack = 1;
	if (r == -EOPNOTSUPP) {
		/* No CONFIG_NETFILTER_NETLINK_GLUE_CT (or no nf_conntrack_netlink):
		 * the kernel can neither attach conntrack to packets nor take
		 * CTA_MARK in verdicts. Trust falls back to the packet mark. */
		c->conntrack = 0;
		r = config_bind(c, flags & ~(uint32_t)NFQA_CFG_F_CONNTRACK);
	}
	if (r != 0) {
		int e = -r;
		int code = NFQ_OPEN_E_KERNEL;
		if (e == EBUSY || e == EPERM) {
			int cap = have_net_admin();
			if (cap == 0) {
				code = NFQ_OPEN_E_PERM;
				set_err(err, errlen,
					"binding NFQUEUE %u needs CAP_NET_ADMIN (run as root): kernel answered %s",
					cfg->queue_num, strerror(e));
			} else {
				code = NFQ_OPEN_E_BUSY;
				set_err(err, errlen,
					"NFQUEUE %u is already bound by another socket (another sipwall or "
					"NFQUEUE consumer in this network namespace): kernel answered %s",
					cfg->queue_num, e == EBUSY ? "EBUSY" : "EPERM");
			}
		} else {
			set_err(err, errlen, "binding NFQUEUE %u: %s", cfg->queue_num, strerror(e));
		}
		release(c);
		return code;
	}
	return NFQ_OPEN_OK;
}

void nfq_core_close(struct nfq_core *c)
{
	if (c->nl != NULL && c->txb != NULL) {
		/* Closing the socket makes the kernel drop what is still queued to
		 * us (instance_destroy() flushes with NF_DROP): answer it first, as
		 * the fail mode says, in a bounded number of reads. Not when the
		 * shared buffers were taken away from us (nfq-addon.c): the reads
		 * would write into memory that is no longer ours. */
		c->draining = 1;
		for (int round = 0; c->rx != NULL && c->desc != NULL && c->verdicts != NULL && round < NFQ_DRAIN_ROUNDS;
		     round++) {
			if (nfq_core_receive(c, 0) < 0)
				break;
			nfq_core_finish(c);
		}
		c->draining = 0;
		/* Under load more may wait than the drain read (up to queueMaxLen,
		 * at most 2^20): in fail-open mode one range verdict accepts them
		 * all. It covers every queued id within 2^30 after the last one
		 * seen, since ids compare as signed 32-bit differences
		 * (nfq_id_after()), and the kernel numbers them in order. Fail-closed
		 * leaves them to the kernel's flush, which drops them. */
		if (c->seen_any && (c->cfg.flags & NFQ_OPEN_FAIL_OPEN)) {
			put_verdict(c, NFQNL_MSG_VERDICT_BATCH, c->last_id + (1u << 30), NFQ_VERDICT_ACCEPT, 0);
			flush_verdicts(c);
		}
	}
	release(c);
}
