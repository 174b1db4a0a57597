/* Drives native/nfq-core.c without a kernel, for test/native/nfq-core.test.ts:
 * packet messages go in through an AF_UNIX datagram socketpair (what
 * recvmmsg reads), and mnl_socket_sendto() is replaced here (the symbol in
 * this executable wins over libmnl's) by a model of the kernel's queue: a
 * single verdict answers its id, a range verdict every queued id at or before
 * its own (net/netfilter/nfnetlink_queue.c, nfqnl_recv_verdict_batch()).
 *
 * Usage: nfq-core-harness send-failure|unknown-id|huge-len|close|close-out open|closed
 * Prints "id N: accept|drop|queued" for every packet (close: the counts). */
#define _GNU_SOURCE /* recvmmsg, as binding.gyp builds the addon */
#include "../../native/hot-table.c"
#include "../../native/packet-peek.c"
#include "../../native/nfq-core.c"

#define QMAX 512
static uint32_t queue[QMAX];
static int queued;
static int fate[QMAX]; /* by id: -1 queued, NF_ACCEPT, NF_DROP */
static int fail_sends;

ssize_t mnl_socket_sendto(const struct mnl_socket *nl, const void *buf, size_t len)
{
	(void)nl;
	if (fail_sends > 0) {
		fail_sends--;
		errno = EPERM;
		return -1;
	}
	const struct nlmsghdr *nlh = buf;
	int rem = (int)len;
	while (mnl_nlmsg_ok(nlh, rem)) {
		uint32_t id = 0, verdict = 0;
		const struct nlattr *a;
		mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
			if (mnl_attr_get_type(a) == NFQA_VERDICT_HDR) {
				const struct nfqnl_msg_verdict_hdr *v = mnl_attr_get_payload(a);
				id = ntohl(v->id);
				verdict = ntohl(v->verdict);
			}
		}
		int type = nlh->nlmsg_type & 0xff;
		int i = 0;
		if (type == NFQNL_MSG_VERDICT) {
			while (i < queued && queue[i] != id)
				i++;
			if (i < queued) {
				fate[id] = (int)verdict;
				memmove(&queue[i], &queue[i + 1], (size_t)(queued - i - 1) * sizeof(queue[0]));
				queued--;
			}
		} else if (type == NFQNL_MSG_VERDICT_BATCH) {
			while (i < queued && (int32_t)(queue[i] - id) <= 0)
				fate[queue[i++]] = (int)verdict;
			memmove(queue, &queue[i], (size_t)(queued - i) * sizeof(queue[0]));
			queued -= i;
		}
		nlh = mnl_nlmsg_next(nlh, &rem);
	}
	return (ssize_t)len;
}

/* The socket is a socketpair end here: nothing of libmnl's to close. */
int mnl_socket_close(struct mnl_socket *nl)
{
	(void)nl;
	return 0;
}

static int wfd;
static const uint8_t udp4[28] = {0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 100};

/* A packet message as the kernel sends one, from netfilter hook `hook`; without_id leaves NFQA_PACKET_HDR out. */
static void kernel_sends_at(uint32_t id, int without_id, uint8_t hook)
{
	char b[512] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b);
	nlh->nlmsg_type = NFQ_PACKET_MSG_TYPE;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_INET;
	if (!without_id) {
		struct nfqnl_msg_packet_hdr ph = {.packet_id = htonl(id), .hw_protocol = htons(0x0800), .hook = hook};
		mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
	}
	mnl_attr_put(nlh, NFQA_PAYLOAD, sizeof(udp4), udp4);
	if (write(wfd, b, nlh->nlmsg_len) != (ssize_t)nlh->nlmsg_len)
		exit(5);
	queue[queued++] = id;
	fate[id] = -1;
}

/* A packet to the PBX (INPUT). */
static void kernel_sends(uint32_t id, int without_id)
{
	kernel_sends_at(id, without_id, NF_INET_LOCAL_IN);
}

static struct nfq_core C;
static int32_t desc[8 * NFQ_DESC_STRIDE];
static uint8_t verdicts[8];

static void setup(int fail_open)
{
	static uint8_t *rx;
	memset(&C, 0, sizeof(C));
	C.cfg.batch = 8;
	C.cfg.copy_range = 256;
	C.cfg.flags = fail_open ? NFQ_OPEN_FAIL_OPEN : 0;
	C.slot = nfq_slot_size(C.cfg.copy_range);
	rx = calloc(C.cfg.batch, C.slot);
	C.rx = rx;
	C.desc = desc;
	C.verdicts = verdicts;
	C.mmsg = calloc(C.cfg.batch, sizeof(*C.mmsg));
	C.iov = calloc(C.cfg.batch, sizeof(*C.iov));
	C.recs = calloc(C.cfg.batch, sizeof(*C.recs));
	C.tx_limit = (size_t)C.cfg.batch * NFQ_VERDICT_MSG_MAX + NFQ_VERDICT_MSG_MAX;
	C.tx = malloc(C.tx_limit + 4 * NFQ_VERDICT_MSG_MAX);
	C.txb = mnl_nlmsg_batch_start(C.tx, C.tx_limit);
	if (hot_table_init(&C.hot, 64) != 0 || rx == NULL || C.txb == NULL)
		exit(4);
	for (uint32_t i = 0; i < C.cfg.batch; i++) {
		C.iov[i].iov_base = rx + (size_t)i * C.slot;
		C.iov[i].iov_len = C.slot;
		C.mmsg[i].msg_hdr.msg_iov = &C.iov[i];
		C.mmsg[i].msg_hdr.msg_iovlen = 1;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) != 0)
		exit(3);
	int big = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	C.fd = sv[0];
	wfd = sv[1];
	C.nl = (struct mnl_socket *)&C; /* never dereferenced: sendto is ours */
}

/* One batch: receive what is waiting, every packet judged `v` by "JavaScript". */
static void batch(uint8_t v)
{
	int n = nfq_core_receive(&C, nfq_now_ns());
	for (int i = 0; i < n; i++)
		verdicts[i] = v;
	nfq_core_finish(&C);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	setup(strcmp(argv[2], "open") == 0);
	if (strcmp(argv[1], "send-failure") == 0) {
		/* Ids 1-3 accepted, but the send fails; ids 4-6 dropped as a range. */
		for (uint32_t id = 1; id <= 3; id++)
			kernel_sends(id, 0);
		fail_sends = 1;
		batch(NFQ_VERDICT_ACCEPT);
		for (uint32_t id = 4; id <= 6; id++)
			kernel_sends(id, 0);
		batch(NFQ_VERDICT_DROP);
	} else if (strcmp(argv[1], "unknown-id") == 0) {
		/* Id 1 arrives without its id attribute; 2 is accepted alone, then 3-4 dropped as a range. */
		kernel_sends(1, 1);
		kernel_sends(2, 0);
		batch(NFQ_VERDICT_ACCEPT);
		kernel_sends(3, 0);
		kernel_sends(4, 0);
		batch(NFQ_VERDICT_DROP);
	} else if (strcmp(argv[1], "huge-len") == 0) {
		/* A header claiming 4 GiB - 16 bytes in a 64-byte datagram, then a good packet. */
		char b[64] __attribute__((aligned(8)));
		memset(b, 0, sizeof(b));
		struct nlmsghdr *nlh = (struct nlmsghdr *)b;
		nlh->nlmsg_len = 0xfffffff0u; /* as an int, -16: passes; the walk then moves 4 GiB on with 80 bytes "left" */
		nlh->nlmsg_type = NFQ_PACKET_MSG_TYPE;
		if (write(wfd, b, sizeof(b)) != (ssize_t)sizeof(b))
			return 5;
		kernel_sends(1, 0);
		batch(NFQ_VERDICT_DROP);
		printf("survived, id 1: %s\n", fate[1] == NF_DROP ? "drop" : "other");
		return 0;
	} else if (strcmp(argv[1], "close") == 0) {
		/* One packet judged, then 300 more queued when sipwall stops. */
		kernel_sends(1, 0);
		batch(NFQ_VERDICT_ACCEPT);
		for (uint32_t id = 2; id <= 301; id++)
			kernel_sends(id, 0);
		nfq_core_close(&C);
		int accepted = 0, left = 0;
		for (uint32_t id = 2; id <= 301; id++) {
			accepted += fate[id] == NF_ACCEPT;
			left += fate[id] == -1;
		}
		printf("accepted %d queued %d\n", accepted, left);
		return 0;
	} else if (strcmp(argv[1], "close-out") == 0) {
		/* At a stop, 10 packets queued to the PBX and 10 from it (its answers, queued from OUTPUT), alternating. */
		kernel_sends(1, 0);
		batch(NFQ_VERDICT_ACCEPT);
		for (uint32_t id = 2; id <= 21; id++)
			kernel_sends_at(id, 0, id % 2 == 0 ? NF_INET_LOCAL_IN : NF_INET_LOCAL_OUT);
		nfq_core_close(&C);
		int in_acc = 0, in_drop = 0, out_acc = 0, out_drop = 0;
		for (uint32_t id = 2; id <= 21; id++) {
			int *acc = id % 2 == 0 ? &in_acc : &out_acc, *drop = id % 2 == 0 ? &in_drop : &out_drop;
			*acc += fate[id] == NF_ACCEPT;
			*drop += fate[id] == NF_DROP;
		}
		printf("in: accepted %d dropped %d; out: accepted %d dropped %d\n", in_acc, in_drop, out_acc, out_drop);
		return 0;
	} else {
		return 2;
	}
	uint32_t last = strcmp(argv[1], "send-failure") == 0 ? 6 : 4;
	for (uint32_t id = 1; id <= last; id++)
		printf("id %u: %s\n", id, fate[id] == NF_ACCEPT ? "accept" : fate[id] == NF_DROP ? "drop" : "queued");
	return 0;
}
