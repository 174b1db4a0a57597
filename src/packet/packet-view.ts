// A decoded IP packet as a set of offsets into the caller's buffer.
//
// One PacketView is allocated per consumer and reused for every packet
// (decodeIp() overwrites every field), so the packet path allocates nothing.
// Addresses are not copied: srcOff/dstOff point at the address bytes in `buf`
// (4 bytes for IPv4, 16 for IPv6).

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

/** decodeIp() outcome. OK is 0 so callers can test `if (status !== DECODE_OK)`. */
export const DECODE_OK = 0;
/** Not IPv4 or IPv6 (version nibble), or an empty buffer. */
export const DECODE_BAD_VERSION = 1;
/** The buffer ends before a header it announces (IP, extension header, UDP, TCP). */
export const DECODE_TRUNCATED = 2;
/** A length field lies: IHL < 5, total length < header, TCP data offset < 5, UDP length < 8 ... */
export const DECODE_BAD_LENGTH = 3;
/** Transport is neither UDP nor TCP (after walking IPv6 extension headers). */
export const DECODE_NOT_UDP_TCP = 4;
/** A non-first fragment: no transport header to read. First fragments decode normally with `fragment` set. */
export const DECODE_FRAGMENT = 5;
/** Too many IPv6 extension headers (cap, so a hostile chain cannot make us loop). */
export const DECODE_TOO_MANY_EXT = 6;

/** Stable names for DECODE_* codes, indexable by the code (used in metrics and `check` output). */
export const DECODE_REASONS: readonly string[] = [
  'ok',
  'bad-ip-version',
  'truncated',
  'bad-length',
  'not-udp-tcp',
  'fragment',
  'too-many-ipv6-ext',
];

export class PacketView {
  /** The buffer the offsets refer to. */
  buf: Buffer = Buffer.alloc(0);
  /** 4 or 6; 0 before the first successful decode. */
  family: 0 | 4 | 6 = 0;
  /** PROTO_UDP or PROTO_TCP. */
  proto = 0;
  /** Offset of the source address bytes in buf (4 or 16 bytes). */
  srcOff = 0;
  /** Offset of the destination address bytes in buf. */
  dstOff = 0;
  srcPort = 0;
  dstPort = 0;
  /** Offset of the transport payload (SIP bytes) in buf. */
  payloadOff = 0;
  /** Payload length, clipped to what the buffer actually holds. */
  payloadLen = 0;
  /** True when the IP header says the packet is longer than the buffer (NFQUEUE copy range, snaplen). */
  truncated = false;
  /** True for a first fragment (MF set, offset 0): the payload is only part of the datagram. */
  fragment = false;
  /** TCP flags byte (FIN=1 SYN=2 RST=4 PSH=8 ACK=16); 0 for UDP. */
  tcpFlags = 0;
  /** TCP sequence number (unsigned 32-bit); 0 for UDP. */
  tcpSeq = 0;
  /** TCP acknowledgment number (unsigned 32-bit); 0 for UDP. */
  tcpAck = 0;
}
