/*
 * UDP sink for bench/inline-bench.ts: counts what reaches the PBX port and
 * records one-way latency from the CLOCK_MONOTONIC timestamp sip-flood
 * writes into each payload (16 lowercase hex digits at --ts-offset).
 *
 *   sip-sink [--port 5060] [--ts-offset N] [--max-samples N] [--rcvbuf BYTES]
 *            [--answer "401 Unauthorized"]
 *
 * --answer: reply to every datagram as a PBX would, from the bound port to
 * where it came from: "SIP/2.0 <status>" then the request's own header and
 * body lines (so Via, From, To, Call-ID and CSeq match, RFC 3261 §8.2.6.2),
 * sent in batches with sendmmsg. The inline bench uses it to measure what
 * watching the answers costs sipwall.
 *
 * Commands on stdin, one per line, each answered by one line on stdout:
 *   reset   zero the counters and the samples        -> {"ok":true}
 *   report  counters and latency percentiles (ns),   -> {"packets":...}
 *           samples over 1 ms, when the worst arrived (ms after the first)
 *   quit    exit                                     (also on stdin EOF)
 * Prints "ready" once bound. recvmmsg() in batches; the receive time is read
 * once per batch, right after recvmmsg() returns, so a packet's latency
 * includes the wake-up of this process, as for a real PBX.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define SLOT 2048
#define TS_LEN 16

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static unsigned long parse_ul(const char *s, const char *name)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s) {
		fprintf(stderr, "sip-sink: bad %s: %s\n", name, s);
		exit(2);
	}
	return v;
}

/* 16 hex digits -> value; -1 if any is not a lowercase hex digit. */
static int parse_ts(const uint8_t *p, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < TS_LEN; i++) {
		uint8_t c = p[i];
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{"port", required_argument, 0, 'p'},
		{"ts-offset", required_argument, 0, 'o'},
		{"max-samples", required_argument, 0, 'm'},
		{"rcvbuf", required_argument, 0, 'r'},
		{"answer", required_argument, 0, 'a'},
		{0, 0, 0, 0},
	};
	unsigned long port = 5060, max_samples = 2000000, rcvbuf = 32 * 1024 * 1024;
	long ts_off = -1;
	const char *answer = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': port = parse_ul(optarg, "port"); break;
		case 'o': ts_off = (long)parse_ul(optarg, "ts-offset"); break;
		case 'm': max_samples = parse_ul(optarg, "max-samples"); break;
		case 'r': rcvbuf = parse_ul(optarg, "rcvbuf"); break;
		case 'a': answer = optarg; break;
		default:
			fprintf(stderr, "usage: sip-sink [--port P] [--ts-offset N] [--max-samples N] [--rcvbuf B] [--answer STATUS]\n");
			return 2;
		}
	}
	if (port == 0 || port > 65535 || max_samples == 0 || max_samples > 100000000UL ||
	    (ts_off >= 0 && ts_off + TS_LEN > SLOT) || (answer != NULL && (strlen(answer) < 5 || strlen(answer) > 64))) {
		fprintf(stderr, "sip-sink: option out of range\n");
		return 2;
	}
	uint64_t *lat = malloc(max_samples * sizeof(*lat));
	static uint8_t bufs[BATCH][SLOT];
	static struct iovec iov[BATCH];
	static struct mmsghdr msgs[BATCH];
	static struct sockaddr_in from[BATCH];
	static uint8_t obufs[BATCH][SLOT + 80];
	static struct iovec oiov[BATCH];
	static struct mmsghdr omsgs[BATCH];
	unsigned long long answered = 0, answer_errors = 0;
	if (lat == NULL) {
		perror("sip-sink: malloc");
		return 1;
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = SLOT;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		oiov[i].iov_base = obufs[i];
		omsgs[i].msg_hdr.msg_iov = &oiov[i];
		omsgs[i].msg_hdr.msg_iovlen = 1;
		omsgs[i].msg_hdr.msg_name = &from[i];
		omsgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
	}

	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		perror("sip-sink: socket");
		return 1;
	}
	int v = (int)rcvbuf;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) != 0) {
		perror("sip-sink: SO_RCVBUF");
		return 1;
	}
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		perror("sip-sink: bind");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");

	unsigned long long packets = 0, bytes = 0, bad_ts = 0, recv_calls = 0;
	unsigned long samples = 0, over_1ms = 0;
	uint64_t first_rx = 0, last_rx = 0, worst = 0, worst_at = 0;
	char line[256];
	size_t linelen = 0;
	struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("sip-sink: poll");
			return 1;
		}
		if (pfd[0].revents & POLLIN) {
			/* Drain what is there, but come back to stdin now and then. */
			for (int round = 0; round < 64; round++) {
				int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
				if (n < 0) {
					if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
						break;
					perror("sip-sink: recvmmsg");
					return 1;
				}
				uint64_t t = now_ns();
				recv_calls++;
				if (first_rx == 0)
					first_rx = t;
				last_rx = t;
				for (int i = 0; i < n; i++) {
					unsigned int len = msgs[i].msg_len;
					uint64_t ts;
					packets++;
					bytes += len;
					if (ts_off < 0)
						continue;
					if ((size_t)ts_off + TS_LEN > len || parse_ts(bufs[i] + ts_off, &ts) != 0 || ts > t) {
						bad_ts++;
						continue;
					}
					if (t - ts > worst) {
						worst = t - ts;
						worst_at = t;
					}
					if (t - ts > 1000000)
						over_1ms++;
					if (samples < max_samples)
						lat[samples++] = t - ts;
				}
				if (answer != NULL) {
					int k = 0;
					for (int i = 0; i < n; i++) {
						unsigned int len = msgs[i].msg_len;
						uint8_t *eol = memchr(bufs[i], '\n', len);
						if (eol == NULL)
							continue;
						size_t rest = len - (size_t)(eol + 1 - bufs[i]);
						int h = snprintf((char *)obufs[k], 80, "SIP/2.0 %s\r\n", answer);
						memcpy(obufs[k] + h, eol + 1, rest);
						oiov[k].iov_len = (size_t)h + rest;
						omsgs[k].msg_hdr.msg_name = &from[i];
						omsgs[k].msg_hdr.msg_namelen = sizeof(from[i]);
						k++;
					}
					if (k > 0) {
						int sent = sendmmsg(fd, omsgs, (unsigned int)k, MSG_DONTWAIT);
						if (sent < 0)
							answer_errors += (unsigned long long)k;
						else {
							answered += (unsigned long long)sent;
							answer_errors += (unsigned long long)(k - sent);
						}
					}
					for (int i = 0; i < n; i++)
						msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
				}
				if (n < BATCH)
					break;
			}
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(0, line + linelen, sizeof(line) - 1 - linelen);
			if (r <= 0)
				return 0;
			linelen += (size_t)r;
			char *nl;
			while ((nl = memchr(line, '\n', linelen)) != NULL) {
				*nl = '\0';
				if (strcmp(line, "reset") == 0) {
					packets = bytes = bad_ts = recv_calls = answered = answer_errors = 0;
					samples = over_1ms = 0;
					first_rx = last_rx = worst = worst_at = 0;
					printf("{\"ok\":true}\n");
				} else if (strcmp(line, "report") == 0) {
					qsort(lat, samples, sizeof(*lat), cmp_u64);
#define PCT(q) (samples ? lat[(size_t)((double)(samples - 1) * (q))] : 0)
					printf("{\"packets\":%llu,\"bytes\":%llu,\"recv_calls\":%llu,\"bad_ts\":%llu,"
					       "\"samples\":%lu,\"first_rx_ns\":%llu,\"last_rx_ns\":%llu,"
					       "\"min_ns\":%llu,\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,"
					       "\"p999_ns\":%llu,\"max_ns\":%llu,\"over_1ms\":%lu,\"worst_at_ms\":%.1f,"
					       "\"answered\":%llu,\"answer_errors\":%llu}\n",
					       packets, bytes, recv_calls, bad_ts, samples, (unsigned long long)first_rx,
					       (unsigned long long)last_rx, (unsigned long long)PCT(0.0),
					       (unsigned long long)PCT(0.5), (unsigned long long)PCT(0.9),
					       (unsigned long long)PCT(0.99), (unsigned long long)PCT(0.999),
					       (unsigned long long)PCT(1.0), over_1ms,
					       worst_at ? (double)(worst_at - first_rx) / 1e6 : 0.0, answered, answer_errors);
				} else if (strcmp(line, "quit") == 0) {
					return 0;
				} else {
					printf("{\"error\":\"unknown command\"}\n");
				}
				size_t used = (size_t)(nl - line) + 1;
				memmove(line, nl + 1, linelen - used);
				linelen -= used;
			}
			if (linelen == sizeof(line) - 1)
				linelen = 0; /* an overlong line: drop it */
		}
	}
}
