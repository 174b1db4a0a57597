// The key under which per-source state is kept.
//
// IPv4: the address as a signed 32-bit integer, which V8 stores as a small
// integer (no heap allocation, cheap Map hashing). IPv6: the first
// `prefixLength` bits as a short latin1 string: one host usually holds a
// whole /64 (RFC 6177), so per-address state would let an attacker rotate
// through 2^64 addresses and never hit a limit.

import { formatIp, parseCidr } from '../packet/address.js';

export type SourceKey = number | string;

export function sourceKey(buf: Uint8Array, off: number, family: 4 | 6, v6PrefixLength: number): SourceKey {
  if (family === 4) return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) | 0;
  const whole = v6PrefixLength >>> 3;
  const rest = v6PrefixLength & 7;
  let s = '';
  for (let i = 0; i < whole; i++) s += String.fromCharCode(buf[off + i]!);
  if (rest !== 0) s += String.fromCharCode(buf[off + whole]! & ((0xff << (8 - rest)) & 0xff));
  return s;
}

/** The source a key stands for, as an address (IPv4) or a CIDR (IPv6 prefix): for logs, ipset and the CLI. */
export function sourceKeyText(key: SourceKey, v6PrefixLength: number): string {
  const bytes = new Uint8Array(16);
  if (typeof key === 'number') {
    bytes[0] = key >>> 24;
    bytes[1] = (key >>> 16) & 0xff;
    bytes[2] = (key >>> 8) & 0xff;
    bytes[3] = key & 0xff;
    return formatIp(bytes, 0, 4);
  }
  for (let i = 0; i < key.length && i < 16; i++) bytes[i] = key.charCodeAt(i);
  const ip = formatIp(bytes, 0, 6);
  return v6PrefixLength === 128 ? ip : `${ip}/${v6PrefixLength}`;
}

/**
 * The key for a source given as text (an address, or for IPv6 a prefix as
 * printed by sourceKeyText): for the state file and the CLI. null when the
 * text is not an address or its prefix does not match how sources are keyed.
 */
export function sourceKeyFromText(text: string, v6PrefixLength: number): SourceKey | null {
  const c = parseCidr(text);
  if (c === null) return null;
  if (c.family === 4) return c.prefix === 32 ? sourceKey(c.bytes, 0, 4, v6PrefixLength) : null;
  if (c.prefix !== 128 && c.prefix !== v6PrefixLength) return null;
  return sourceKey(c.bytes, 0, 6, v6PrefixLength);
}
