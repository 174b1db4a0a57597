// IP address text <-> bytes, CIDR prefixes, and a CIDR set that answers
// "is this packet's address in the set" without allocating.
//
// Parsing and formatting build strings, so they belong to configuration,
// logs and the CLI; CidrSet.has() and ipv4ToInt() are the per-packet parts.

export interface ParsedIp {
  family: 4 | 6;
  bytes: Uint8Array;
}

export interface ParsedCidr extends ParsedIp {
  prefix: number;
  /** True when the text had bits set beyond the prefix (e.g. 10.0.0.1/8); they were masked off. */
  hostBitsSet: boolean;
}

/** What CidrSet.add() needs: a ParsedCidr is one. */
export interface CidrEntry {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

/** The 4 bytes at buf[off] as an unsigned 32-bit number in network order. */
export function ipv4ToInt(buf: Uint8Array, off: number): number {
  // Multiply the top byte instead of shifting it: `<< 24` would go negative.
  return buf[off]! * 0x1000000 + ((buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!);
}

// ---------------------------------------------------------------------------
// Formatting

/**
 * Text form of the address at buf[off] (4 bytes for family 4, 16 for 6).
 * IPv6 follows RFC 5952 section 4: lower-case hex without leading zeros, the
 * longest run of two or more zero groups shortened to "::" (the first such
 * run on a tie), a lone zero group written as "0". IPv4-mapped addresses
 * (::ffff:0:0/96) end in dotted decimal, as RFC 5952 section 5 recommends.
 */
export function formatIp(buf: Uint8Array, off: number, family: 4 | 6): string {
  if (family === 4) {
    return `${buf[off]!}.${buf[off + 1]!}.${buf[off + 2]!}.${buf[off + 3]!}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!);

  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${buf[off + 12]!}.${buf[off + 13]!}.${buf[off + 14]!}.${buf[off + 15]!}`;
  }

  // Longest run of zero groups; strict ">" keeps the first run on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // RFC 5952 section 4.2.2: "::" must not stand for a single 0 group.
  if (bestLen < 2) bestStart = -1;

  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += groups[i]!.toString(16);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Parsing

const CH_0 = 0x30;
const CH_9 = 0x39;

/** Parse dotted-quad IPv4 at text[start, end) into out[at..at+4); false if not strict dotted decimal. */
function parseIpv4Into(text: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  let part = 0;
  let i = start;
  while (part < 4) {
    const first = i;
    let value = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < CH_0 || c > CH_9) break;
      value = value * 10 + (c - CH_0);
      i++;
    }
    const digits = i - first;
    // Reject "01": inet_aton() reads a leading 0 as octal, inet_pton() rejects
    // it, so such text means different addresses to different tools.
    if (digits === 0 || digits > 3 || value > 255) return false;
    if (digits > 1 && text.charCodeAt(first) === CH_0) return false;
    out[at + part] = value;
    part++;
    if (part < 4) {
      if (i >= end || text.charCodeAt(i) !== 0x2e /* . */) return false;
      i++;
    }
  }
  return i === end;
}

/** The value of the hex digit `c` (either case), -1 if it is not one. */
export function hexValue(c: number): number {
  if (c >= CH_0 && c <= CH_9) return c - CH_0;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10; // a-f
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10; // A-F
  return -1;
}

/**
 * Parse IPv6 text (RFC 4291 section 2.2: hex groups, at most one "::",
 * optionally ending in dotted IPv4). Zone ids ("%eth0") and brackets are not
 * addresses and are rejected.
 */
function parseIpv6(text: string): Uint8Array | null {
  const end = text.length;
  if (end < 2 || end > 45) return null; // 45 = longest form, e.g. ffff:...:ffff:255.255.255.255
  const out = new Uint8Array(16);
  // Groups before and after "::" are collected separately, then the gap is zero-filled.
  const head: number[] = [];
  const tail: number[] = [];
  let seenGap = false;
  let i = 0;
  if (text.startsWith('::')) {
    seenGap = true;
    i = 2;
    if (i === end) return out; // "::"
  } else if (text.charCodeAt(0) === 0x3a) {
    return null; // a single leading ":"
  }
  let groupsSeen = 0;
  for (;;) {
    const groups = seenGap ? tail : head;
    const first = i;
    let value = 0;
    while (i < end) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      value = value * 16 + h;
      i++;
    }
    const digits = i - first;
    if (i < end && text.charCodeAt(i) === 0x2e /* . */) {
      // Embedded IPv4 in the last 32 bits: only as the final piece.
      if (digits === 0 || groupsSeen > 6) return null;
      const tmp = new Uint8Array(4);
      if (!parseIpv4Into(text, first, end, tmp, 0)) return null;
      groups.push((tmp[0]! << 8) | tmp[1]!, (tmp[2]! << 8) | tmp[3]!);
      break;
    }
    if (digits === 0 || digits > 4) return null;
    groups.push(value);
    groupsSeen++;
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a /* : */) return null;
    i++;
    if (i < end && text.charCodeAt(i) === 0x3a) {
      if (seenGap) return null; // a second "::"
      seenGap = true;
      i++;
      if (i === end) break; // trailing "::"
    } else if (i === end) {
      return null; // a single trailing ":"
    }
  }
  const total = head.length + tail.length;
  if (seenGap ? total > 7 : total !== 8) return null;
  let g = 0;
  for (const v of head) {
    out[g * 2] = v >>> 8;
    out[g * 2 + 1] = v & 0xff;
    g++;
  }
  g = 8 - tail.length;
  for (const v of tail) {
    out[g * 2] = v >>> 8;
    out[g * 2 + 1] = v & 0xff;
    g++;
  }
  return out;
}

/**
 * Parse an IPv4 or IPv6 address. Strict: IPv4 is exactly four decimal octets
 * without leading zeros; IPv6 as in RFC 4291 section 2.2 (IPv4-mapped and
 * other embedded-IPv4 forms accepted, family stays 6); zone ids, brackets,
 * prefixes and surrounding spaces are rejected. Returns null when not an address.
 */
export function parseIp(text: string): ParsedIp | null {
  if (typeof text !== 'string') return null;
  if (text.indexOf(':') >= 0) {
    const bytes = parseIpv6(text);
    return bytes === null ? null : { family: 6, bytes };
  }
  if (text.length < 7 || text.length > 15) return null;
  const bytes = new Uint8Array(4);
  return parseIpv4Into(text, 0, text.length, bytes, 0) ? { family: 4, bytes } : null;
}

/** Zero the bits of `bytes` after the first `prefix`; true if any was set. */
function maskHostBits(bytes: Uint8Array, prefix: number): boolean {
  let hostBitsSet = false;
  for (let i = 0; i < bytes.length; i++) {
    const keep = prefix - i * 8; // bits of this byte inside the prefix
    const mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    if ((bytes[i]! & ~mask) !== 0) hostBitsSet = true;
    bytes[i] = bytes[i]! & mask;
  }
  return hostBitsSet;
}

/**
 * Parse "address/prefix" or a bare address (= /32 or /128). Host bits beyond
 * the prefix are cleared, and `hostBitsSet` says so: "10.0.0.1/8" is almost
 * always a typo for /32 or for 10.0.0.0/8, and config validation should warn.
 * The prefix is decimal without sign or leading zeros.
 */
export function parseCidr(text: string): ParsedCidr | null {
  if (typeof text !== 'string') return null;
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip === null) return null;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  const hostBitsSet = maskHostBits(ip.bytes, prefix);
  return { family: ip.family, bytes: ip.bytes, prefix, hostBitsSet };
}

/**
 * For a CIDR within ::ffff:0:0/96 (IPv4-mapped, RFC 4291 §2.5.5.2), the
 * IPv4 form to write instead; null for any other. No packet carries such a
 * source: an IPv4 packet's is an IPv4 address. So a rule or a ban on one
 * matches nothing, and a source keyed per IPv6 /64 would even become ::/64.
 */
export function v4MappedForm(c: ParsedCidr): string | null {
  const b = c.bytes;
  if (c.family !== 6 || c.prefix < 96) return null;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return null;
  if (b[10] !== 0xff || b[11] !== 0xff) return null;
  return `${b[12]}.${b[13]}.${b[14]}.${b[15]}${c.prefix < 128 ? `/${c.prefix - 96}` : ''}`;
}

// ---------------------------------------------------------------------------
// CidrSet

/** 32-bit mask of the first `prefix` bits, as a signed int32 (what `&` yields). */
function mask32(prefix: number): number {
  return prefix <= 0 ? 0 : prefix >= 32 ? -1 : ~0 << (32 - prefix);
}

/** Cheap integer mix (the murmur3 finalizer) so nearby keys spread over a table. */
export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Word `w` (0-3) of the address at buf[off], as a signed int32. */
function word(buf: Uint8Array, off: number, w: number): number {
  const i = off + w * 4;
  return (buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!;
}

/**
 * A set of IPv4 and IPv6 prefixes. has() tries each prefix length in use (in
 * practice a handful): it masks the address to that length and probes an
 * open-addressing hash table keyed by (prefix length, masked address). Keys
 * live in typed arrays, so a lookup allocates nothing and costs one probe
 * sequence per distinct prefix length.
 */
export class CidrSet {
  private v4 = new PrefixTable(1);
  private v6 = new PrefixTable(4);

  /** Number of distinct prefixes (after masking host bits) in the set. */
  get size(): number {
    return this.v4.count + this.v6.count;
  }

  /** Add a prefix; host bits beyond `prefix` are ignored. Throws RangeError on a bad prefix or byte count. */
  add(cidr: CidrEntry): void {
    const words = cidr.family === 4 ? 1 : 4;
    if (!Number.isInteger(cidr.prefix) || cidr.prefix < 0 || cidr.prefix > words * 32) {
      throw new RangeError(`CIDR prefix /${cidr.prefix} out of range for IPv${cidr.family}`);
    }
    if (cidr.bytes.length < words * 4) {
      throw new RangeError(`IPv${cidr.family} address needs ${words * 4} bytes, got ${cidr.bytes.length}`);
    }
    (cidr.family === 4 ? this.v4 : this.v6).add(cidr.bytes, cidr.prefix);
  }

  /** Whether the address at buf[off] (4 or 16 bytes) is inside any prefix of its family. */
  has(buf: Uint8Array, off: number, family: 4 | 6): boolean {
    return family === 4 ? this.v4.has4(buf, off) : this.v6.has6(buf, off);
  }

  clear(): void {
    this.v4 = new PrefixTable(1);
    this.v6 = new PrefixTable(4);
  }
}

/**
 * A test of whether a network lies inside `w`: same family, a prefix at
 * least as long, its address within. The set is built once, for loops over
 * many networks (a kernel ban set read back).
 */
export function insideOf(w: ParsedCidr): (n: ParsedCidr | null) => boolean {
  const within = new CidrSet();
  within.add(w);
  return (n) => n !== null && n.family === w.family && n.prefix >= w.prefix && within.has(n.bytes, 0, n.family);
}

/**
 * Open-addressing table (linear probing, load <= 1/2) of masked prefixes of
 * one family: `words` int32 per key, and a tag byte per slot holding
 * prefix + 1 (0 = empty). Lookups are written out per family (has4/has6) so
 * the per-packet path has no inner loops over words.
 */
class PrefixTable {
  count = 0;
  /** Prefix lengths in use, longest first; nLengths of them are valid. */
  private lengths = new Int32Array(0);
  /** masks[i * words + w]: mask of word w for lengths[i]. */
  private masks = new Int32Array(0);
  private readonly perLength: Int32Array;
  private capacity = 16;
  private keys: Int32Array;
  private tags: Uint8Array;

  constructor(private readonly words: 1 | 4) {
    this.perLength = new Int32Array(words * 32 + 1);
    this.keys = new Int32Array(this.capacity * words);
    this.tags = new Uint8Array(this.capacity);
  }

  private hash(tag: number, k0: number, k1: number, k2: number, k3: number): number {
    const h = mix32(Math.imul(tag, 0x9e3779b1) ^ k0);
    return this.words === 1 ? h : mix32(mix32(mix32(h ^ k1) ^ k2) ^ k3);
  }

  /** Slot holding the key, or the empty slot where it would go. Unused words are 0. */
  private find(tag: number, k0: number, k1: number, k2: number, k3: number): number {
    const keys = this.keys;
    const tags = this.tags;
    const words = this.words;
    const m = this.capacity - 1;
    let slot = this.hash(tag, k0, k1, k2, k3) & m;
    for (;;) {
      const t = tags[slot]!;
      if (t === 0) return slot;
      if (t === tag) {
        const at = slot * words;
        if (words === 1 ? keys[at] === k0 : keys[at] === k0 && keys[at + 1] === k1 && keys[at + 2] === k2 && keys[at + 3] === k3) {
          return slot;
        }
      }
      slot = (slot + 1) & m;
    }
  }

  private insert(tag: number, k: Int32Array): boolean {
    const slot = this.find(tag, k[0]!, k[1] ?? 0, k[2] ?? 0, k[3] ?? 0);
    if (this.tags[slot] !== 0) return false;
    this.tags[slot] = tag;
    this.keys.set(k, slot * this.words);
    return true;
  }

  add(bytes: Uint8Array, prefix: number): void {
    const k = new Int32Array(this.words);
    for (let w = 0; w < this.words; w++) k[w] = word(bytes, 0, w) & mask32(prefix - w * 32);
    if ((this.count + 1) * 2 > this.capacity) this.grow();
    if (!this.insert(prefix + 1, k)) return; // already present
    this.count++;
    if (this.perLength[prefix]!++ === 0) {
      // Rebuild the list of lengths in use (longest first) and their masks.
      const lengths: number[] = [];
      for (let p = this.perLength.length - 1; p >= 0; p--) if (this.perLength[p]! > 0) lengths.push(p);
      this.lengths = Int32Array.from(lengths);
      this.masks = new Int32Array(lengths.length * this.words);
      lengths.forEach((p, i) => {
        for (let w = 0; w < this.words; w++) this.masks[i * this.words + w] = mask32(p - w * 32);
      });
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldTags = this.tags;
    this.capacity *= 2;
    this.keys = new Int32Array(this.capacity * this.words);
    this.tags = new Uint8Array(this.capacity);
    for (let s = 0; s < oldTags.length; s++) {
      const t = oldTags[s]!;
      if (t !== 0) this.insert(t, oldKeys.subarray(s * this.words, (s + 1) * this.words));
    }
  }

  has4(buf: Uint8Array, off: number): boolean {
    const a = word(buf, off, 0);
    const lengths = this.lengths;
    const masks = this.masks;
    for (let i = 0; i < lengths.length; i++) {
      const tag = lengths[i]! + 1;
      if (this.tags[this.find(tag, a & masks[i]!, 0, 0, 0)] !== 0) return true;
    }
    return false;
  }

  has6(buf: Uint8Array, off: number): boolean {
    const a0 = word(buf, off, 0);
    const a1 = word(buf, off, 1);
    const a2 = word(buf, off, 2);
    const a3 = word(buf, off, 3);
    const lengths = this.lengths;
    const masks = this.masks;
    for (let i = 0; i < lengths.length; i++) {
      const tag = lengths[i]! + 1;
      const j = i * 4;
      const slot = this.find(tag, a0 & masks[j]!, a1 & masks[j + 1]!, a2 & masks[j + 2]!, a3 & masks[j + 3]!);
      if (this.tags[slot] !== 0) return true;
    }
    return false;
  }
}
