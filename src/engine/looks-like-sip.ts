// Tells malformed SIP from payload that is not SIP at all, so the two are
// counted apart (a broken phone versus RTP or garbage on a SIP port). SIP
// starts with "SIP/" (a status line) or with a method token followed by a
// space (RFC 3261 §7.1: Method SP Request-URI SP SIP-Version).

const MAX_METHOD = 32;

export function looksLikeSip(buf: Uint8Array, off: number, end: number): boolean {
  let i = off;
  // Leading CRLFs are allowed before a message on a stream (RFC 3261 §7.5).
  while (i < end && (buf[i] === 13 || buf[i] === 10)) i++;
  const limit = Math.min(end, i + MAX_METHOD + 1);
  const start = i;
  while (i < limit) {
    const c = buf[i]!;
    if (c === 0x20) return i > start;
    if (c === 0x2f /* '/' */) return i - start === 3 && buf[start] === 0x53 && buf[start + 1] === 0x49 && buf[start + 2] === 0x50;
    // Method tokens in practice are upper-case letters (extension methods included).
    if (c < 0x41 || c > 0x5a) return false;
    i++;
  }
  return false;
}

/**
 * A TLS record header (RFC 8446 §5.1, RFC 5246 §6.2.1): content type 20-23
 * (change_cipher_spec, alert, handshake, application_data), then a legacy
 * version 3.0-3.4. A connection opens with a handshake record (22), but a
 * flow first seen mid-connection starts with any of them. None is a byte a
 * SIP message starts with.
 */
export function isTlsRecord(buf: Uint8Array, off: number, end: number): boolean {
  if (end - off < 5) return false;
  const type = buf[off]!;
  return type >= 20 && type <= 23 && buf[off + 1] === 3 && buf[off + 2]! <= 4;
}
