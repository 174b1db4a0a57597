/*
 * The two facts the addon reads from a packet before deciding whether
 * JavaScript needs to see it: the source address (hot table) and whether it
 * is a TCP segment without payload (cannot carry SIP). Everything else about
 * the packet is src/packet/'s job.
 */
#ifndef SIPWALL_PACKET_PEEK_H
#define SIPWALL_PACKET_PEEK_H

#include <stdbool.h>
#include <stdint.h>

/* 4 or 6 when the captured bytes hold the fixed IP header, else 0. */
int peek_ip_version(const uint8_t *p, uint32_t caplen);

/* Source address of a packet peek_ip_version() accepted. */
static inline const uint8_t *peek_ip_source(const uint8_t *p, int version)
{
	return version == 4 ? p + 12 : p + 8;
}

/* Destination address of a packet peek_ip_version() accepted. */
static inline const uint8_t *peek_ip_dest(const uint8_t *p, int version)
{
	return version == 4 ? p + 16 : p + 24;
}

/* True for a complete (not fragmented) TCP segment whose payload is empty
 * and that neither opens nor closes a connection: a pure ACK, a window
 * update, a keep-alive; not a SYN, FIN or RST, which JavaScript follows
 * connections by, nor one with URG set. origlen is the length of the packet
 * in the kernel (NFQA_CAP_LEN), used when the IP length field is 0 (GSO
 * packets above 64 KiB, "BIG TCP"). */
bool peek_tcp_empty(const uint8_t *p, uint32_t caplen, uint32_t origlen);

#endif
