/*
 * Baseline NFQUEUE consumer for benchmarks: the simplest thing that works,
 * after libnetfilter_queue's examples/nf-queue.c. One recv() and one
 * verdict sendto() per packet, every packet accepted. The sipwall addon's
 * batching (recvmmsg + one send per batch) is measured against this.
 *
 *   nfq-consumer QUEUE_NUM [MAX_PACKETS]
 *
 * Prints "packets N" and exits after MAX_PACKETS packets, or on SIGINT/SIGTERM.
 * Build: bench/build-nfq-consumer.sh
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/types.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

static volatile sig_atomic_t stop;
static struct mnl_socket *nl;
static unsigned long long packets;

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

int main(int argc, char *argv[])
{
	/* Largest packet plus netlink overhead, as in nf-queue.c. */
	size_t bufsize = 0xffff + (MNL_SOCKET_BUFFER_SIZE / 2);
	char *buf;
	unsigned long long max = 0;
	char *end;

	if (argc < 2) {
		fprintf(stderr, "usage: %s QUEUE_NUM [MAX_PACKETS]\n", argv[0]);
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
	buf = malloc(bufsize);
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
	printf("packets %llu\n", packets);
	if (mnl_socket_close(nl) != 0) {
		perror("nfq-consumer: close");
		return 1;
	}
	free(buf);
	return 0;
}
