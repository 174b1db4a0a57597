/* Checks native/nfq-core.c's fit_sndbuf() against the real kernel, for
 * test/native/sndbuf.test.ts: a NETLINK_NETFILTER socket with a small send
 * buffer refuses one sendto() of a full batch of verdict-sized messages
 * (EMSGSIZE, net/netlink/af_netlink.c netlink_sendmsg()); fit_sndbuf() makes
 * room, after which the same send goes through. The messages are
 * NLMSG_NOOP, which netlink_rcv_skb() skips: nothing reaches nfnetlink.
 *
 * Usage: sndbuf-harness BATCH   (prints one line per step) */
#define _GNU_SOURCE /* recvmmsg, as binding.gyp builds the addon */
#include "../../native/hot-table.c"
#include "../../native/packet-peek.c"
#include "../../native/nfq-core.c"

static ssize_t send_batch(struct mnl_socket *nl, char *buf, size_t len)
{
	size_t off = 0;
	while (off + NFQ_VERDICT_MSG_MAX <= len) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(buf + off);
		memset(nlh, 0, NFQ_VERDICT_MSG_MAX);
		nlh->nlmsg_len = NFQ_VERDICT_MSG_MAX;
		nlh->nlmsg_type = NLMSG_NOOP;
		off += NFQ_VERDICT_MSG_MAX;
	}
	return mnl_socket_sendto(nl, buf, off);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	size_t batch = strtoul(argv[1], NULL, 10);
	/* What nfq_core_open() asks fit_sndbuf() for. */
	size_t need = batch * NFQ_VERDICT_MSG_MAX + NFQ_VERDICT_MSG_MAX + 4 * NFQ_VERDICT_MSG_MAX;
	char *buf = malloc(need);
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (buf == NULL || nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("setup");
		return 1;
	}
	int fd = mnl_socket_get_fd(nl);
	int small = 4096;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) != 0) {
		perror("SO_SNDBUF");
		return 1;
	}
	ssize_t r = send_batch(nl, buf, need);
	printf("small buffer: %s\n", r < 0 ? strerror(errno) : "sent");
	char err[256] = "";
	printf("fit: %s\n", fit_sndbuf(fd, need, err, sizeof(err)) == 0 ? "ok" : err);
	r = send_batch(nl, buf, need);
	printf("fitted buffer: %s\n", r < 0 ? strerror(errno) : "sent");
	mnl_socket_close(nl);
	free(buf);
	return 0;
}
