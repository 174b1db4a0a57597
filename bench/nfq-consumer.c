/*
 * Baseline NFQUEUE consumer for benchmarks: the simplest thing that works,
 * after libnetfilter_queue's examples/nf-queue.c. One recv() and one
 * verdict sendto() per packet, every packet accepted. The sipwall addon's
 * batching (recvmmsg + one send per batch) is measured against this.
 *
 * With --batch N it batches as the sipwall addon does, and does nothing
 * else: one recvmmsg(MSG_WAITFORONE) of up to N netlink datagrams per
 * wake-up, then one NFQNL_MSG_VERDICT_BATCH accepting every id up to the
 * highest one received (nfqnl_recv_verdict_batch()). That is the ceiling
 * of batching in C on this kernel: sipwall's native path minus its
 * JavaScript, the reference for what batching alone buys over the
 * per-packet consumer.
 *
 *   nfq-consumer [--batch N] QUEUE_NUM [MAX_PACKETS]
 *
 * Prints "packets N" (and with --batch, "wakeups N") and exits after
 * MAX_PACKETS packets, or on SIGINT/SIGTERM.
 * Build: bench/build-nfq-consumer.sh
 */
#define _GNU_SOURCE /* recvmmsg, MSG_WAITFORONE */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/types.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

static volatile sig_atomic_t stop;
static struct mnl_socket *nl;
static unsigned long long packets;
/* --batch: the highest packet id of the datagrams being read. */
static int batching;
static uint32_t last_id;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int send_verdict(uint16_t queue_num, uint32_t id)
{
	char buf[128] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, queue_num);

	nfq_nlmsg_verdict_put(nlh, (int)id, NF_ACCEPT);
	return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

static int queue_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr[NFQA_MAX + 1];
	struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);

	(void)data;
	memset(attr, 0, sizeof(attr));
	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL) {
		fprintf(stderr, "nfq-consumer: unparsable packet message\n");
		return MNL_CB_ERROR;
	}
	struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	if (batching) {
		/* Ids grow in queue order; the batch verdict covers all below. */
		last_id = ntohl(ph->packet_id);
		packets++;
		return MNL_CB_OK;
	}
	if (send_verdict(ntohs(nfg->res_id), ntohl(ph->packet_id)) != 0) {
		perror("nfq-consumer: verdict");
		return MNL_CB_ERROR;
	}
	packets++;
	return MNL_CB_OK;
}

/* Bind and configure in one request with NLM_F_ACK: no packet can arrive
 * before the answer, which is an NLMSG_ERROR carrying 0 on success. */
static int bind_queue(uint16_t queue_num)
{
	char buf[256] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_num);

	nlh->nlmsg_flags |= NLM_F_ACK;
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -1;
	return mnl_cb_run(buf, (size_t)n, 0, mnl_socket_get_portid(nl), NULL, NULL) < 0 ? -1 : 0;
}

/* One recv() and one verdict (sent from queue_cb) per packet. */
static int run_per_packet(char *buf, size_t bufsize, unsigned long long max)
{
	unsigned int portid = mnl_socket_get_portid(nl);

	while (!stop && (max == 0 || packets < max)) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, bufsize);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) /* packets lost in the kernel: go on */
				continue;
			perror("nfq-consumer: recv");
			return 1;
		}
		if (mnl_cb_run(buf, (size_t)n, 0, portid, queue_cb, NULL) < 0) {
			perror("nfq-consumer: mnl_cb_run");
			return 1;
		}
	}
	return 0;
}

/* --batch: one recvmmsg() per wake-up, one batch verdict per wake-up. */
static int run_batched(uint16_t queue_num, char *buf, size_t bufsize, unsigned int nslots,
		       unsigned long long max)
{
	struct mmsghdr *mm = calloc(nslots, sizeof(*mm));
	struct iovec *iov = calloc(nslots, sizeof(*iov));
	unsigned int portid = mnl_socket_get_portid(nl);
	unsigned long long wakeups = 0;
	char vbuf[128] __attribute__((aligned(8)));

	if (mm == NULL || iov == NULL) {
		perror("nfq-consumer: calloc");
		return 1;
	}
	for (unsigned int i = 0; i < nslots; i++) {
		iov[i].iov_base = buf + (size_t)i * bufsize;
		iov[i].iov_len = bufsize;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (!stop && (max == 0 || packets < max)) {
		/* Blocks for the first datagram, then takes what is queued. */
		int n = recvmmsg(mnl_socket_get_fd(nl), mm, nslots, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			perror("nfq-consumer: recvmmsg");
			return 1;
		}
		wakeups++;
		unsigned long long before = packets;
		for (int i = 0; i < n; i++) {
			if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
				fprintf(stderr, "nfq-consumer: truncated netlink datagram\n");
				return 1;
			}
			if (mnl_cb_run(iov[i].iov_base, mm[i].msg_len, 0, portid, queue_cb, NULL) < 0) {
				perror("nfq-consumer: mnl_cb_run");
				return 1;
			}
		}
		if (packets == before)
			continue;
		struct nlmsghdr *nlh = nfq_nlmsg_put(vbuf, NFQNL_MSG_VERDICT_BATCH, queue_num);
		nfq_nlmsg_verdict_put(nlh, (int)last_id, NF_ACCEPT);
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
			perror("nfq-consumer: batch verdict");
			return 1;
		}
	}
	printf("wakeups %llu\n", wakeups);
	free(mm);
	free(iov);
	return 0;
}

int main(int argc, char *argv[])
{
	/* Largest packet plus netlink overhead, as in nf-queue.c. */
	size_t bufsize = 0xffff + (MNL_SOCKET_BUFFER_SIZE / 2);
	char *buf;
	unsigned long long max = 0;
	char *end;

	unsigned long nslots = 0;

	if (argc > 1 && strcmp(argv[1], "--batch") == 0) {
		nslots = argc > 2 ? strtoul(argv[2], &end, 10) : 0;
		if (argc < 3 || *end != '\0' || nslots < 1 || nslots > 1024) {
			fprintf(stderr, "nfq-consumer: --batch wants a count of 1-1024\n");
			return 2;
		}
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: nfq-consumer [--batch N] QUEUE_NUM [MAX_PACKETS]\n");
		return 2;
	}
	unsigned long q = strtoul(argv[1], &end, 10);
	if (*end != '\0' || q > 65535) {
		fprintf(stderr, "nfq-consumer: bad queue number %s\n", argv[1]);
		return 2;
	}
	if (argc > 2) {
		max = strtoull(argv[2], &end, 10);
		if (*end != '\0') {
			fprintf(stderr, "nfq-consumer: bad packet count %s\n", argv[2]);
			return 2;
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: recv() returns EINTR */
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
		perror("nfq-consumer: sigaction");
		return 1;
	}
	buf = malloc(bufsize * (nslots > 0 ? nslots : 1));
	if (buf == NULL) {
		perror("nfq-consumer: malloc");
		return 1;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (nl == NULL) {
		perror("nfq-consumer: mnl_socket_open");
		return 1;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("nfq-consumer: mnl_socket_bind");
		return 1;
	}
	int rcvbuf = 8 * 1024 * 1024;
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0 &&
	    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0) {
		perror("nfq-consumer: SO_RCVBUF");
		return 1;
	}
	if (bind_queue((uint16_t)q) != 0) {
		fprintf(stderr, "nfq-consumer: binding queue %lu: %s\n", q, strerror(errno));
		return 1;
	}
	batching = nslots > 0;
	if ((batching ? run_batched((uint16_t)q, buf, bufsize, (unsigned int)nslots, max)
		      : run_per_packet(buf, bufsize, max)) != 0)
		return 1;
	printf("packets %llu\n", packets);
	if (mnl_socket_close(nl) != 0) {
		perror("nfq-consumer: close");
		return 1;
	}
	free(buf);
	return 0;
}
