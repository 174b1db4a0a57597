/*
 * UDP packet generator for bench/inline-bench.ts: sends one SIP template from
 * many IPv4 source addresses through a raw socket (IPPROTO_RAW implies
 * IP_HDRINCL, so the source address is ours to write), with the send time
 * (CLOCK_MONOTONIC ns, 16 lowercase hex digits) written into the payload at
 * a given offset for the sink to compute one-way latency. CLOCK_MONOTONIC
 * is one clock for the whole machine: network namespaces do not change it
 * (time namespaces could, and none is used).
 *
 *   sip-flood --dst A.B.C.D --src-base A.B.C.D --sources N --template FILE
 *             [--dport 5060] [--sport 5060] [--ts-offset N] [--rate PPS]
 *             [--count N] [--duration SECONDS] [--batch N]
 *
 * Every source i (0 <= i < N) is src-base + i and always uses the same
 * source port: a UDP "connection" is the conntrack 5-tuple, so each source
 * stays one flow. Packets go round-robin over the sources.
 *
 * --rate 0 (default): flood, sendmmsg() of --batch packets at a time, as fast
 * as the kernel takes them. --rate R: paced, one sendto() per packet at
 * t0 + i/R (absolute clock_nanosleep, timer slack 1 ns), the timestamp taken
 * right before the send. Stops after --count packets or --duration seconds,
 * whichever comes first (both are always bounded), or on SIGINT/SIGTERM.
 * Prints one JSON line: sent, errors, elapsed_ns, first_errno.
 *
 * UDP checksums are real (RFC 768: computed over the pseudo-header); the
 * IPv4 header checksum is filled in by the kernel for IP_HDRINCL sockets
 * (raw_send_hdrinc()).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 1400
#define MAX_BATCH 1024
#define HDR_LEN 28 /* IPv4 (no options) + UDP */
#define TS_LEN 16

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "sip-flood: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sip-flood --dst IP --src-base IP --sources N --template FILE [--dport P] [--sport P]\n"
		"                 [--ts-offset N] [--rate PPS] [--count N] [--duration S] [--batch N]\n");
	exit(2);
}

static unsigned long parse_ul(const char *s, const char *name, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v > max) {
		fprintf(stderr, "sip-flood: bad %s: %s\n", name, s);
		exit(2);
	}
	return v;
}

/* Sum of 16-bit big-endian words (RFC 1071), unfolded. */
static uint32_t sum16(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < len)
		s += (uint32_t)p[i] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

struct gen {
	uint8_t payload[MAX_PAYLOAD];
	size_t plen;
	long ts_off; /* -1: no timestamp */
	uint32_t src_base; /* host order */
	uint32_t sources;
	uint32_t dst; /* network order */
	uint16_t sport, dport;
	uint32_t base_sum; /* everything of the UDP checksum but the source address and the timestamp */
	uint32_t next_src;
	uint16_t ip_id;
};

static const char HEX[] = "0123456789abcdef";

/* Writes headers and payload for the next source into buf; returns the length. */
static size_t build(struct gen *g, uint8_t *buf, uint64_t ts)
{
	uint32_t src = g->src_base + g->next_src;
	uint8_t *p = buf + HDR_LEN;
	uint32_t s = g->base_sum;

	g->next_src = (g->next_src + 1) % g->sources;
	memcpy(p, g->payload, g->plen);
	if (g->ts_off >= 0) {
		for (int k = 0; k < TS_LEN; k++) {
			uint8_t c = (uint8_t)HEX[(ts >> (4 * (TS_LEN - 1 - k))) & 15];
			long off = g->ts_off + k;
			p[off] = c;
			/* The UDP header is 8 bytes: a payload byte at an even offset is a high byte. */
			s += (off & 1) ? c : (uint32_t)c << 8;
		}
	}
	s += src >> 16;
	s += src & 0xffff;
	uint16_t csum = (uint16_t)~fold(s);
	if (csum == 0)
		csum = 0xffff; /* RFC 768: 0 means "no checksum" */

	uint16_t tot = (uint16_t)(HDR_LEN + g->plen);
	buf[0] = 0x45;
	buf[1] = 0;
	buf[2] = (uint8_t)(tot >> 8);
	buf[3] = (uint8_t)tot;
	g->ip_id++;
	if (g->ip_id == 0)
		g->ip_id = 1; /* 0 would make the kernel pick one */
	buf[4] = (uint8_t)(g->ip_id >> 8);
	buf[5] = (uint8_t)g->ip_id;
	buf[6] = 0x40; /* DF */
	buf[7] = 0;
	buf[8] = 64;
	buf[9] = IPPROTO_UDP;
	buf[10] = buf[11] = 0; /* filled by the kernel */
	uint32_t srcn = htonl(src);
	memcpy(buf + 12, &srcn, 4);
	memcpy(buf + 16, &g->dst, 4);
	uint16_t ulen = (uint16_t)(8 + g->plen);
	buf[20] = (uint8_t)(g->sport >> 8);
	buf[21] = (uint8_t)g->sport;
	buf[22] = (uint8_t)(g->dport >> 8);
	buf[23] = (uint8_t)g->dport;
	buf[24] = (uint8_t)(ulen >> 8);
	buf[25] = (uint8_t)ulen;
	buf[26] = (uint8_t)(csum >> 8);
	buf[27] = (uint8_t)csum;
	return tot;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{"dst", required_argument, 0, 'd'},	 {"src-base", required_argument, 0, 's'},
		{"sources", required_argument, 0, 'n'},	 {"template", required_argument, 0, 't'},
		{"dport", required_argument, 0, 'P'},	 {"sport", required_argument, 0, 'S'},
		{"ts-offset", required_argument, 0, 'o'}, {"rate", required_argument, 0, 'r'},
		{"count", required_argument, 0, 'c'},	 {"duration", required_argument, 0, 'D'},
		{"batch", required_argument, 0, 'b'},	 {0, 0, 0, 0},
	};
	struct gen g;
	const char *dst = NULL, *src_base = NULL, *tmpl = NULL;
	unsigned long rate = 0, batch = 64;
	unsigned long long count = 0;
	double duration = 0;
	int c;

	memset(&g, 0, sizeof(g));
	g.ts_off = -1;
	g.sport = 5060;
	g.dport = 5060;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dst = optarg; break;
		case 's': src_base = optarg; break;
		case 'n': g.sources = (uint32_t)parse_ul(optarg, "sources", 1UL << 24); break;
		case 't': tmpl = optarg; break;
		case 'P': g.dport = (uint16_t)parse_ul(optarg, "dport", 65535); break;
		case 'S': g.sport = (uint16_t)parse_ul(optarg, "sport", 65535); break;
		case 'o': g.ts_off = (long)parse_ul(optarg, "ts-offset", MAX_PAYLOAD); break;
		case 'r': rate = parse_ul(optarg, "rate", 100000000UL); break;
		case 'c': count = parse_ul(optarg, "count", (unsigned long)-1); break;
		case 'D': {
			char *end;
			duration = strtod(optarg, &end);
			if (*end != '\0' || !(duration > 0 && duration <= 3600)) {
				fprintf(stderr, "sip-flood: bad duration %s\n", optarg);
				return 2;
			}
			break;
		}
		case 'b': batch = parse_ul(optarg, "batch", MAX_BATCH); break;
		default: usage();
		}
	}
	/* Both bounds are mandatory: no load loop runs unbounded. */
	if (dst == NULL || src_base == NULL || tmpl == NULL || g.sources == 0 || count == 0 || duration == 0 ||
	    batch == 0)
		usage();
	struct in_addr a;
	if (inet_pton(AF_INET, dst, &a) != 1) {
		fprintf(stderr, "sip-flood: bad --dst %s\n", dst);
		return 2;
	}
	g.dst = a.s_addr;
	if (inet_pton(AF_INET, src_base, &a) != 1) {
		fprintf(stderr, "sip-flood: bad --src-base %s\n", src_base);
		return 2;
	}
	g.src_base = ntohl(a.s_addr);
	if ((uint64_t)g.src_base + g.sources > 0xffffffffULL) {
		fprintf(stderr, "sip-flood: source range overflows\n");
		return 2;
	}

	FILE *f = fopen(tmpl, "rb");
	if (f == NULL)
		die(tmpl);
	g.plen = fread(g.payload, 1, sizeof(g.payload), f);
	if (ferror(f) || !feof(f)) {
		fprintf(stderr, "sip-flood: %s: unreadable or longer than %d bytes\n", tmpl, MAX_PAYLOAD);
		return 2;
	}
	fclose(f);
	if (g.ts_off >= 0 && (size_t)g.ts_off + TS_LEN > g.plen) {
		fprintf(stderr, "sip-flood: --ts-offset past the end of the template\n");
		return 2;
	}

	/* The checksum parts that never change: pseudo-header (destination,
	 * protocol, UDP length), ports, UDP length, payload with the timestamp
	 * bytes counted as zero. */
	uint8_t tmp[MAX_PAYLOAD];
	memcpy(tmp, g.payload, g.plen);
	if (g.ts_off >= 0)
		memset(tmp + g.ts_off, 0, TS_LEN);
	uint32_t dsth = ntohl(g.dst);
	uint16_t ulen = (uint16_t)(8 + g.plen);
	g.base_sum = (dsth >> 16) + (dsth & 0xffff) + IPPROTO_UDP + ulen + g.sport + g.dport + ulen +
		     sum16(tmp, g.plen);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		die("sigaction");
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		die("socket(AF_INET, SOCK_RAW, IPPROTO_RAW)");
	int sndbuf = 4 * 1024 * 1024;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) != 0)
		die("SO_SNDBUF");

	struct sockaddr_in to;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = g.dst;

	static uint8_t bufs[MAX_BATCH][HDR_LEN + MAX_PAYLOAD];
	static struct iovec iov[MAX_BATCH];
	static struct mmsghdr msgs[MAX_BATCH];
	for (unsigned long i = 0; i < batch; i++) {
		iov[i].iov_base = bufs[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
	}

	unsigned long long sent = 0, errors = 0;
	int first_errno = 0;
	uint64_t t0 = now_ns();
	uint64_t deadline = t0 + (uint64_t)(duration * 1e9);
	uint64_t t = t0;

	if (rate == 0) {
		while (!stop && sent < count && t < deadline) {
			unsigned long n = batch;
			if (count - sent < n)
				n = (unsigned long)(count - sent);
			for (unsigned long i = 0; i < n; i++)
				iov[i].iov_len = build(&g, bufs[i], t);
			unsigned long done = 0;
			while (done < n && !stop) {
				int r = sendmmsg(fd, msgs + done, (unsigned int)(n - done), 0);
				if (r < 0) {
					if (errno == EINTR)
						continue;
					/* ENOBUFS and friends: the packet is lost, count it and go on. */
					if (first_errno == 0)
						first_errno = errno;
					errors++;
					done++;
					continue;
				}
				done += (unsigned long)r;
				sent += (unsigned long long)r;
			}
			t = now_ns();
		}
	} else {
		double step = 1e9 / (double)rate;
		for (unsigned long long i = 0; !stop && i < count; i++) {
			uint64_t at = t0 + (uint64_t)((double)i * step);
			if (at >= deadline)
				break;
			t = now_ns();
			if (t < at) {
				struct timespec ts = {.tv_sec = (time_t)(at / 1000000000ULL),
						      .tv_nsec = (long)(at % 1000000000ULL)};
				while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop)
					;
			}
			size_t len = build(&g, bufs[0], now_ns());
			if (sendto(fd, bufs[0], len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
				if (first_errno == 0)
					first_errno = errno;
				errors++;
			} else {
				sent++;
			}
		}
		t = now_ns();
	}
	printf("{\"sent\":%llu,\"errors\":%llu,\"elapsed_ns\":%llu,\"first_errno\":%d}\n", sent, errors,
	       (unsigned long long)(t - t0), first_errno);
	close(fd);
	return 0;
}
