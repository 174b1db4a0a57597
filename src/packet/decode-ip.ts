// Decode one raw IP packet, as NFQUEUE delivers it (no link-layer header),
// into a reused PacketView of offsets. This runs once per packet, so it
// allocates nothing, never throws, and never reads a byte outside
// [off, off+len): every read is preceded by a bounds check against `end`.
//
// Lengths are treated the way the Linux receive path treats them:
// - IPv4 total length shorter than the buffer: the packet ends there; the rest
//   is link-layer padding (Ethernet pads to 60 bytes), as ip_rcv_core() trims
//   the skb to tot_len.
// - IP length longer than the buffer: NFQUEUE copy range or a capture snaplen
//   cut the packet; decode what is there and set `truncated`.
// - A header that does not fit inside the length the IP header itself
//   declares is a lie (DECODE_BAD_LENGTH); one that fits the declared length
//   but not the buffer is DECODE_TRUNCATED.

import {
  DECODE_BAD_LENGTH,
  DECODE_BAD_VERSION,
  DECODE_FRAGMENT,
  DECODE_NOT_UDP_TCP,
  DECODE_OK,
  DECODE_TOO_MANY_EXT,
  DECODE_TRUNCATED,
  PROTO_TCP,
  PROTO_UDP,
  type PacketView,
} from './packet-view.js';

/**
 * Most IPv6 extension headers walked before giving up. RFC 8200 section 4.1
 * recommends an order with each header at most once (destination options at
 * most twice), i.e. at most 7 in a sane packet; a longer chain is hostile or
 * broken, and the cap bounds the loop whatever the chain says.
 */
export const MAX_IPV6_EXT_HEADERS = 8;

const IPV4_MIN_HEADER = 20;
const IPV6_HEADER = 40;
const UDP_HEADER = 8;
const TCP_MIN_HEADER = 20;

// IPv6 next-header values (IANA "Assigned Internet Protocol Numbers").
const NH_HOP_BY_HOP = 0;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_ESP = 50;
const NH_AH = 51;
const NH_NONE = 59;
const NH_DEST_OPTS = 60;

/** Reset every field so a reused view never carries a previous packet's values. */
function reset(view: PacketView, buf: Buffer): void {
  view.buf = buf;
  view.family = 0;
  view.proto = 0;
  view.srcOff = 0;
  view.dstOff = 0;
  view.srcPort = 0;
  view.dstPort = 0;
  view.payloadOff = 0;
  view.payloadLen = 0;
  view.truncated = false;
  view.fragment = false;
  view.tcpFlags = 0;
  view.tcpSeq = 0;
  view.tcpAck = 0;
}

/**
 * Decode the IP packet in `buf[off, off+len)` into `view` and return a
 * DECODE_* code. All fields of `view` are overwritten. On codes other than
 * DECODE_OK the fields decoded before the problem are kept (family and
 * addresses are set as soon as the IP header is known), the rest are zero.
 */
export function decodeIp(buf: Buffer, off: number, len: number, view: PacketView): number {
  reset(view, buf);
  // Defensive clamp: a caller's bad (off, len) must not turn into reads past
  // the Buffer, where indexing yields undefined and arithmetic yields NaN.
  // `x >>> 0 !== x` rejects negatives, fractions, NaN and values >= 2^32 in one test.
  if (off >>> 0 !== off || len >>> 0 !== len || len === 0 || off >= buf.length) return DECODE_BAD_VERSION;
  let end = off + len;
  if (end > buf.length) end = buf.length;

  const version = buf[off]! >>> 4;
  if (version === 4) return decodeIpv4(buf, off, end, view);
  if (version === 6) return decodeIpv6(buf, off, end, view);
  return DECODE_BAD_VERSION;
}

function decodeIpv4(buf: Buffer, off: number, end: number, view: PacketView): number {
  if (end - off < IPV4_MIN_HEADER) return DECODE_TRUNCATED;
  view.family = 4;
  view.srcOff = off + 12;
  view.dstOff = off + 16;
  const proto = buf[off + 9]!;
  view.proto = proto;

  // RFC 791: IHL counts 32-bit words, minimum 5; total length covers header + data.
  const ihl = (buf[off]! & 0x0f) << 2;
  if (ihl < IPV4_MIN_HEADER) return DECODE_BAD_LENGTH;
  const totalLen = (buf[off + 2]! << 8) | buf[off + 3]!;
  if (totalLen < ihl) return DECODE_BAD_LENGTH;
  if (off + ihl > end) return DECODE_TRUNCATED;

  // declaredEnd is where the IP header says the packet ends; ipEnd is where
  // the bytes we have end. They differ only when the buffer was cut short.
  const declaredEnd = off + totalLen;
  let ipEnd = declaredEnd;
  if (ipEnd > end) {
    ipEnd = end;
    view.truncated = true;
  }

  // RFC 791 flags/fragment offset: MF is 0x2000, offset in 8-byte units.
  const fragField = (buf[off + 6]! << 8) | buf[off + 7]!;
  if ((fragField & 0x1fff) !== 0) {
    // Non-first fragment: it starts mid-datagram, there is no transport header.
    view.payloadOff = off + ihl;
    view.payloadLen = ipEnd - (off + ihl);
    return DECODE_FRAGMENT;
  }
  view.fragment = (fragField & 0x2000) !== 0;
  return decodeTransport(buf, off + ihl, ipEnd, declaredEnd, proto, view);
}

function decodeIpv6(buf: Buffer, off: number, end: number, view: PacketView): number {
  if (end - off < IPV6_HEADER) return DECODE_TRUNCATED;
  view.family = 6;
  view.srcOff = off + 8;
  view.dstOff = off + 24;

  // RFC 8200 section 3: payload length counts everything after the fixed
  // 40-byte header, extension headers included. (A jumbogram, RFC 2675, says
  // 0 here; NFQUEUE on an ordinary MTU never sees one, and it decodes as a
  // bad length rather than being trusted.)
  const payloadLen = (buf[off + 4]! << 8) | buf[off + 5]!;
  const declaredEnd = off + IPV6_HEADER + payloadLen;
  let ipEnd = declaredEnd;
  if (ipEnd > end) {
    ipEnd = end;
    view.truncated = true;
  }

  let next = buf[off + 6]!;
  let p = off + IPV6_HEADER;
  let walked = 0;
  for (;;) {
    if (
      next !== NH_HOP_BY_HOP &&
      next !== NH_ROUTING &&
      next !== NH_FRAGMENT &&
      next !== NH_DEST_OPTS &&
      next !== NH_AH
    ) {
      break;
    }
    if (++walked > MAX_IPV6_EXT_HEADERS) {
      view.proto = next;
      return DECODE_TOO_MANY_EXT;
    }
    // Every extension header is at least 8 bytes (RFC 8200 section 4; AH's
    // fixed part is 12 but its length field is read from the first 2).
    if (p + 8 > declaredEnd) {
      view.proto = next;
      return DECODE_BAD_LENGTH;
    }
    if (p + 8 > ipEnd) {
      view.proto = next;
      return DECODE_TRUNCATED;
    }
    let extLen: number;
    if (next === NH_FRAGMENT) {
      // RFC 8200 section 4.5: fixed 8 bytes; offset in the top 13 bits of
      // bytes 2-3, M flag in bit 0. Offset 0 with M clear is an atomic
      // fragment (RFC 6946) and is processed as a whole packet.
      const fragField = (buf[p + 2]! << 8) | buf[p + 3]!;
      if ((fragField & 0xfff8) !== 0) {
        view.proto = buf[p]!;
        view.payloadOff = p + 8;
        view.payloadLen = ipEnd - (p + 8);
        return DECODE_FRAGMENT;
      }
      if ((fragField & 1) !== 0) view.fragment = true;
      extLen = 8;
    } else if (next === NH_AH) {
      // RFC 4302 section 2.2: AH length is in 32-bit words, minus 2.
      extLen = (buf[p + 1]! + 2) << 2;
    } else {
      // RFC 8200 section 4.3-4.6: Hdr Ext Len in 8-octet units, not counting the first 8.
      extLen = (buf[p + 1]! + 1) << 3;
    }
    next = buf[p]!;
    p += extLen;
    // The header's own length field may reach past the packet.
    if (p > declaredEnd) {
      view.proto = next;
      return DECODE_BAD_LENGTH;
    }
    if (p > ipEnd) {
      view.proto = next;
      return DECODE_TRUNCATED;
    }
  }

  view.proto = next;
  if (next === NH_ESP || next === NH_NONE) {
    // ESP encrypts what follows; "no next header" (RFC 8200 section 4.7) has nothing.
    view.payloadOff = p;
    view.payloadLen = ipEnd - p;
    return DECODE_NOT_UDP_TCP;
  }
  return decodeTransport(buf, p, ipEnd, declaredEnd, next, view);
}

/**
 * Decode the UDP or TCP header at `p`. `ipEnd` is the end of the bytes we
 * have (clipped to the buffer), `declaredEnd` the end the IP header claims.
 */
function decodeTransport(
  buf: Buffer,
  p: number,
  ipEnd: number,
  declaredEnd: number,
  proto: number,
  view: PacketView,
): number {
  if (proto === PROTO_UDP) {
    if (p + UDP_HEADER > declaredEnd) return DECODE_BAD_LENGTH;
    if (p + UDP_HEADER > ipEnd) return DECODE_TRUNCATED;
    view.srcPort = (buf[p]! << 8) | buf[p + 1]!;
    view.dstPort = (buf[p + 2]! << 8) | buf[p + 3]!;
    const udpLen = (buf[p + 4]! << 8) | buf[p + 5]!;
    // RFC 768: the length includes the 8-byte header. Linux __udp4_lib_rcv()
    // drops a datagram whose length is below 8 or beyond the IP payload, and
    // trims one that is shorter than the IP payload. A first fragment carries
    // the whole datagram's length, so it may exceed this fragment.
    if (udpLen < UDP_HEADER) return DECODE_BAD_LENGTH;
    let payloadEnd = ipEnd;
    if (!view.fragment) {
      const udpEnd = p + udpLen;
      if (udpEnd > declaredEnd) return DECODE_BAD_LENGTH;
      if (udpEnd < payloadEnd) payloadEnd = udpEnd;
    }
    view.payloadOff = p + UDP_HEADER;
    view.payloadLen = payloadEnd - (p + UDP_HEADER);
    return DECODE_OK;
  }
  if (proto === PROTO_TCP) {
    if (p + TCP_MIN_HEADER > declaredEnd) return DECODE_BAD_LENGTH;
    if (p + TCP_MIN_HEADER > ipEnd) return DECODE_TRUNCATED;
    view.srcPort = (buf[p]! << 8) | buf[p + 1]!;
    view.dstPort = (buf[p + 2]! << 8) | buf[p + 3]!;
    // Multiply rather than shift the top byte so the result stays unsigned.
    view.tcpSeq = buf[p + 4]! * 0x1000000 + ((buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!);
    view.tcpAck = buf[p + 8]! * 0x1000000 + ((buf[p + 9]! << 16) | (buf[p + 10]! << 8) | buf[p + 11]!);
    view.tcpFlags = buf[p + 13]!;
    // RFC 9293 section 3.1: data offset in 32-bit words, minimum 5; options follow the fixed 20 bytes.
    const doff = (buf[p + 12]! >>> 4) << 2;
    if (doff < TCP_MIN_HEADER) return DECODE_BAD_LENGTH;
    if (p + doff > declaredEnd) return DECODE_BAD_LENGTH;
    if (p + doff > ipEnd) return DECODE_TRUNCATED;
    view.payloadOff = p + doff;
    view.payloadLen = ipEnd - (p + doff);
    return DECODE_OK;
  }
  // Neither UDP nor TCP (ICMP, SCTP, GRE ...): report where the payload starts
  // so callers can count it, but there are no ports to read.
  view.payloadOff = p;
  view.payloadLen = ipEnd - p;
  return DECODE_NOT_UDP_TCP;
}
