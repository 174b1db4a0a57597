// STUN (RFC 5389 §6) on a SIP port: RFC 5626 §4.4.1 has UAs send STUN
// binding requests on the SIP flow as keep-alives. Recognized by the two zero
// top bits, the magic cookie 0x2112A442 and a length that matches the datagram.

export function isStun(buf: Uint8Array, off: number, len: number): boolean {
  if (len < 20) return false;
  if ((buf[off]! & 0xc0) !== 0) return false;
  if (buf[off + 4] !== 0x21 || buf[off + 5] !== 0x12 || buf[off + 6] !== 0xa4 || buf[off + 7] !== 0x42) return false;
  const msgLen = (buf[off + 2]! << 8) | buf[off + 3]!;
  return (msgLen & 3) === 0 && msgLen + 20 === len;
}
