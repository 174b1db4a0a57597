// Builds a raw IPv4 or IPv6 UDP packet around a payload, exactly as NFQUEUE
// would deliver it. `sipwall check` wraps raw SIP message files with it so one
// code path (decode, engine) judges both captures and message files; tests
// use it to make packets.

import { parseIp } from './address.js';
import { PROTO_TCP, PROTO_UDP } from './packet-view.js';

/** The IP header for `l4Len` bytes of transport; returns the packet buffer and the transport offset. */
function ipPacket(src: string, dst: string, proto: number, l4Len: number): [Buffer, number] {
  const s = parseIp(src);
  const t = parseIp(dst);
  if (s === null || t === null || s.family !== t.family) throw new RangeError(`bad address pair ${src} -> ${dst}`);
  if (s.family === 4) {
    if (20 + l4Len > 0xffff) throw new RangeError('payload too large for one IPv4 packet');
    const b = Buffer.alloc(20 + l4Len);
    b[0] = 0x45;
    b.writeUInt16BE(20 + l4Len, 2);
    b[8] = 64;
    b[9] = proto;
    b.set(s.bytes, 12);
    b.set(t.bytes, 16);
    return [b, 20];
  }
  if (l4Len > 0xffff) throw new RangeError('payload too large for one IPv6 packet');
  const b = Buffer.alloc(40 + l4Len);
  b[0] = 0x60;
  b.writeUInt16BE(l4Len, 4);
  b[6] = proto;
  b[7] = 64;
  b.set(s.bytes, 8);
  b.set(t.bytes, 24);
  return [b, 40];
}

// Checksums are left 0: nothing that reads these packets (decoder, engine)
// verifies them, and the kernel never sees them.
export function buildUdpPacket(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Buffer {
  const [b, off] = ipPacket(src, dst, PROTO_UDP, 8 + payload.length);
  b.writeUInt16BE(sport, off);
  b.writeUInt16BE(dport, off + 2);
  b.writeUInt16BE(8 + payload.length, off + 4);
  b.set(payload, off + 8);
  return b;
}

export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_RST = 0x04;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;

export function buildTcpPacket(
  src: string, dst: string, sport: number, dport: number, seq: number, flags: number, payload: Uint8Array, ack = 0,
): Buffer {
  const [b, off] = ipPacket(src, dst, PROTO_TCP, 20 + payload.length);
  b.writeUInt16BE(sport, off);
  b.writeUInt16BE(dport, off + 2);
  b.writeUInt32BE(seq >>> 0, off + 4);
  b.writeUInt32BE(ack >>> 0, off + 8);
  b[off + 12] = 5 << 4; // data offset: 5 words, no options
  b[off + 13] = flags;
  b.writeUInt16BE(65535, off + 14);
  b.set(payload, off + 20);
  return b;
}
