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
