// Case-insensitive byte matching on ranges of a packet buffer, so the engine
// can match User-Agents and hostnames against configured text without
// building a string per packet. Needles are lowered once, at config time.
//
// ASCII case folding only: SIP header field names, hostnames (RFC 3261
// §19.1.4) and the tokens a User-Agent is matched on are ASCII; non-ASCII
// bytes (UTF-8 in a product name) compare exactly.
//
// Every function checks its range first and answers false / -1 for a range
// that does not lie within the buffer: nothing here throws or reads outside
// [start, end).

// Imported bindings are live: V8 re-reads them (with a TDZ check) at every
// use, even in a hot loop. Module-local consts are folded into the code,
// so the values used on the packet path are copied into module consts here.
import * as cc from './char-class.js';
const { LOWER } = cc;

const encoder = new TextEncoder();

/** `s` as UTF-8 bytes with A-Z lowered to a-z. For configuration, not for the packet path (it allocates). */
export function lowerBytes(s: string): Uint8Array {
  const b = encoder.encode(s);
  for (let i = 0; i < b.length; i++) b[i] = LOWER[b[i]!]!;
  return b;
}

function validRange(buf: Uint8Array, start: number, end: number): boolean {
  return start >= 0 && start <= end && end <= buf.length;
}

/** True when buf[start, end) equals needleLower, ignoring ASCII case. */
export function equalsIgnoreCase(buf: Uint8Array, start: number, end: number, needleLower: Uint8Array): boolean {
  if (!validRange(buf, start, end) || end - start !== needleLower.length) return false;
  for (let i = 0; i < needleLower.length; i++) {
    if (LOWER[buf[start + i]!] !== needleLower[i]) return false;
  }
  return true;
}

/** True when buf[start, end) begins with needleLower, ignoring ASCII case. */
export function startsWithIgnoreCase(buf: Uint8Array, start: number, end: number, needleLower: Uint8Array): boolean {
  if (!validRange(buf, start, end) || end - start < needleLower.length) return false;
  for (let i = 0; i < needleLower.length; i++) {
    if (LOWER[buf[start + i]!] !== needleLower[i]) return false;
  }
  return true;
}

/** True when buf[start, end) ends with needleLower, ignoring ASCII case (a domain suffix, say). */
export function endsWithIgnoreCase(buf: Uint8Array, start: number, end: number, needleLower: Uint8Array): boolean {
  if (!validRange(buf, start, end) || end - start < needleLower.length) return false;
  const s = end - needleLower.length;
  for (let i = 0; i < needleLower.length; i++) {
    if (LOWER[buf[s + i]!] !== needleLower[i]) return false;
  }
  return true;
}

/**
 * Offset of the first occurrence of needleLower in buf[start, end), ignoring
 * ASCII case; -1 if absent or the range is invalid; `start` for an empty
 * needle. Scans for the needle's first byte (either case) and only then
 * compares the rest, so the usual cost is one load and two compares per byte.
 */
export function indexOfIgnoreCase(buf: Uint8Array, start: number, end: number, needleLower: Uint8Array): number {
  if (!validRange(buf, start, end)) return -1;
  const n = needleLower.length;
  if (n === 0) return start;
  const last = end - n;
  if (last < start) return -1;
  const f = needleLower[0]!;
  // The upper-case twin of an ASCII lowercase letter, else the byte itself.
  const F = f >= 0x61 && f <= 0x7a ? f - 0x20 : f;
  for (let i = start; i <= last; i++) {
    const c = buf[i]!;
    if (c !== f && c !== F) continue;
    let j = 1;
    while (j < n && LOWER[buf[i + j]!] === needleLower[j]) j++;
    if (j === n) return i;
  }
  return -1;
}
