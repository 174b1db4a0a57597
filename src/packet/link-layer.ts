// Find the IP packet inside a captured link-layer frame, for the link types a
// SIP host's captures actually use. Offsets only: nothing is copied and
// nothing outside [off, off+len) is read.
//
// The CAPTURE_* status codes live here, beside the link layer that produces
// most of them, and are re-exported by capture-reader.ts.

/** LINKTYPE_* values from the tcpdump.org link-layer header type registry. */
export const LINKTYPE_ETHERNET = 1;
/** DLT_RAW as written into old files: 12 on most systems, 14 on BSD/OS and OpenBSD (pcap/dlt.h). */
export const LINKTYPE_RAW_DLT12 = 12;
export const LINKTYPE_RAW_DLT14 = 14;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** Frame status codes; 0 is ok. The first two end the capture (the file cannot be followed further). */
export const CAPTURE_OK = 0;
/** The file ends inside a record or block header or its data. Stops reading. */
export const CAPTURE_TRUNCATED_RECORD = 1;
/** A record or block length that cannot be true (too small, misaligned, over the limit, trailer mismatch). Stops reading. */
export const CAPTURE_BAD_RECORD_LENGTH = 2;
/** A pcapng section header whose byte-order magic is neither order, or a section with more interfaces than a capture has (capture-reader.ts MAX_INTERFACES). Stops reading. */
export const CAPTURE_BAD_SECTION_HEADER = 3;
/** A link type this reader does not decode. The frame is reported and reading continues. */
export const CAPTURE_UNSUPPORTED_LINK_TYPE = 4;
/** The frame carries something other than IPv4/IPv6 (ARP, LLDP ...). */
export const CAPTURE_NOT_IP = 5;
/** The captured bytes end inside the link-layer header (tiny snaplen). */
export const CAPTURE_TRUNCATED_LINK_HEADER = 6;
/** A pcapng packet block names an interface no IDB of its section described. */
export const CAPTURE_UNKNOWN_INTERFACE = 7;

/** Stable reason strings, indexable by CAPTURE_* code. */
export const CAPTURE_REASONS: readonly string[] = [
  '',
  'truncated-record',
  'bad-record-length',
  'bad-section-header',
  'unsupported-link-type',
  'not-ip',
  'truncated-link-header',
  'unknown-interface',
];

/** Where linkToIp() puts the IP packet it found. */
export interface IpLocation {
  ipOff: number;
  ipLen: number;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
// IEEE 802.1Q C-tag, 802.1ad S-tag, and the pre-standard 0x9100 QinQ tag.
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
/** VLAN tags skipped before giving up; real stacks have one or two. */
const MAX_VLAN_TAGS = 4;

const ETHERNET_HEADER = 14;
// Linux cooked capture v1: packet type, ARPHRD type, address length, 8 address bytes, protocol.
const SLL_HEADER = 16;
// Linux cooked capture v2: protocol, reserved, ifindex, ARPHRD type, packet type, address length, 8 address bytes.
const SLL2_HEADER = 20;

/**
 * Skip VLAN tags starting with ethertype `type` whose next header is at `p`,
 * then accept IPv4/IPv6. Fills `out` and returns a CAPTURE_* code.
 */
function fromEthertype(buf: Buffer, type: number, p: number, end: number, out: IpLocation): number {
  let tags = 0;
  while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
    if (++tags > MAX_VLAN_TAGS) return CAPTURE_NOT_IP;
    // A tag is 2 bytes of TCI then the inner ethertype.
    if (p + 4 > end) return CAPTURE_TRUNCATED_LINK_HEADER;
    type = (buf[p + 2]! << 8) | buf[p + 3]!;
    p += 4;
  }
  if (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_IPV6) return CAPTURE_NOT_IP;
  out.ipOff = p;
  out.ipLen = end - p;
  return CAPTURE_OK;
}

/** Raw IP: the version nibble says which IP, if any. `want` 0 accepts 4 or 6. */
function fromRaw(buf: Buffer, off: number, end: number, want: 0 | 4 | 6, out: IpLocation): number {
  if (off >= end) return CAPTURE_TRUNCATED_LINK_HEADER;
  const version = buf[off]! >>> 4;
  if (want === 0 ? version !== 4 && version !== 6 : version !== want) return CAPTURE_NOT_IP;
  out.ipOff = off;
  out.ipLen = end - off;
  return CAPTURE_OK;
}

/**
 * Locate the IP packet in the frame at buf[off, off+len) of link type
 * `linkType`. On CAPTURE_OK, out.ipOff/out.ipLen span from the IP header to
 * the end of the captured frame (Ethernet padding and FCS included; the IP
 * length says where the packet really ends). Otherwise `out` is untouched.
 */
export function linkToIp(linkType: number, buf: Buffer, off: number, len: number, out: IpLocation): number {
  const end = off + len;
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      if (len < ETHERNET_HEADER) return CAPTURE_TRUNCATED_LINK_HEADER;
      return fromEthertype(buf, (buf[off + 12]! << 8) | buf[off + 13]!, off + ETHERNET_HEADER, end, out);
    case LINKTYPE_LINUX_SLL:
      if (len < SLL_HEADER) return CAPTURE_TRUNCATED_LINK_HEADER;
      return fromEthertype(buf, (buf[off + 14]! << 8) | buf[off + 15]!, off + SLL_HEADER, end, out);
    case LINKTYPE_LINUX_SLL2:
      if (len < SLL2_HEADER) return CAPTURE_TRUNCATED_LINK_HEADER;
      return fromEthertype(buf, (buf[off]! << 8) | buf[off + 1]!, off + SLL2_HEADER, end, out);
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_DLT12:
    case LINKTYPE_RAW_DLT14:
      return fromRaw(buf, off, end, 0, out);
    case LINKTYPE_IPV4:
      return fromRaw(buf, off, end, 4, out);
    case LINKTYPE_IPV6:
      return fromRaw(buf, off, end, 6, out);
    default:
      return CAPTURE_UNSUPPORTED_LINK_TYPE;
  }
}
