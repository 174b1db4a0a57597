#include "packet-peek.h"

#include <netinet/in.h>

/* Extension headers walked before giving up (RFC 8200 section 4.1 orders them;
 * a legitimate TCP packet to a PBX carries none or one). */
#define MAX_EXT_HEADERS 8

int peek_ip_version(const uint8_t *p, uint32_t caplen)
{
	if (caplen >= 20 && (p[0] >> 4) == 4 && (p[0] & 0x0f) >= 5)
		return 4;
	if (caplen >= 40 && (p[0] >> 4) == 6)
		return 6;
	return 0;
}

/* Payload length of the TCP segment at p[off], or -1 if its header is not all
 * captured or is malformed. iplen is where the IP datagram ends. */
/* Payload length of the TCP segment at off; -1 if it cannot be read, or if
 * it carries SYN, FIN or RST: JavaScript follows connections by those
 * (src/engine/tcp-flows.ts starts a flow afresh on a SYN and forgets it on a
 * FIN or RST), so a connection dropped once is not held against the next
 * one on the same ports. */
static int64_t tcp_payload_len(const uint8_t *p, uint32_t caplen, uint32_t off, uint32_t iplen)
{
	if (caplen < off + 20 || iplen < off + 20)
		return -1;
	/* FIN 0x01, SYN 0x02, RST 0x04, URG 0x20 (RFC 9293 §3.1): an urgent
	 * pointer takes a byte out of the stream the PBX reads, so the engine
	 * sees (and drops) even a payload-less one. */
	if ((p[off + 13] & 0x27) != 0)
		return -1;
	uint32_t doff = (uint32_t)(p[off + 12] >> 4) * 4;
	if (doff < 20 || iplen < off + doff)
		return -1;
	return (int64_t)iplen - off - doff;
}

bool peek_tcp_empty(const uint8_t *p, uint32_t caplen, uint32_t origlen)
{
	int version = peek_ip_version(p, caplen);

	if (version == 4) {
		uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;
		/* A fragment (MF set or offset non-zero) is not a whole segment.
		 * NFQUEUE after conntrack sees reassembled packets; be safe anyway. */
		if (((p[6] & 0x3f) | p[7]) != 0 || p[9] != IPPROTO_TCP || caplen < ihl)
			return false;
		uint32_t totlen = ((uint32_t)p[2] << 8) | p[3];
		uint32_t iplen = totlen != 0 ? totlen : origlen;
		if (iplen > origlen)
			return false;
		return tcp_payload_len(p, caplen, ihl, iplen) == 0;
	}
	if (version == 6) {
		uint32_t plen = ((uint32_t)p[4] << 8) | p[5];
		uint32_t iplen = plen != 0 ? 40 + plen : origlen;
		uint32_t off = 40;
		uint8_t nh = p[6];
		if (iplen > origlen)
			return false;
		for (int n = 0; n < MAX_EXT_HEADERS; n++) {
			if (nh == IPPROTO_TCP)
				return tcp_payload_len(p, caplen, off, iplen) == 0;
			if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
			    nh != IPPROTO_AH)
				return false; /* fragment, ESP, no next header, unknown */
			if (caplen < off + 2)
				return false;
			uint32_t len = nh == IPPROTO_AH ? ((uint32_t)p[off + 1] + 2) * 4
							: ((uint32_t)p[off + 1] + 1) * 8;
			nh = p[off];
			off += len;
		}
	}
	return false;
}
