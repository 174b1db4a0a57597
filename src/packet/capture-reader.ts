// Read a whole capture file held in memory: classic pcap (libpcap format,
// either byte order, microsecond or nanosecond timestamps) and pcapng
// (draft-ietf-opsawg-pcapng: sections of either byte order, several
// interfaces each with its own link type and timestamp resolution, EPB, SPB,
// OPB; other blocks are skipped).
//
// Only the file header can make it throw (InputError: this is not a capture).
// Anything wrong inside the file becomes a frame with a non-zero status: a
// record that cannot be followed (truncated, lying length) ends the capture
// after that frame, a frame we merely cannot decode (ARP, unknown link type)
// is reported and reading continues.

import { InputError } from '../errors.js';
import {
  CAPTURE_BAD_RECORD_LENGTH,
  CAPTURE_BAD_SECTION_HEADER,
  CAPTURE_OK,
  CAPTURE_REASONS,
  CAPTURE_TRUNCATED_RECORD,
  CAPTURE_UNKNOWN_INTERFACE,
  linkToIp,
  type IpLocation,
} from './link-layer.js';

export {
  CAPTURE_BAD_RECORD_LENGTH,
  CAPTURE_BAD_SECTION_HEADER,
  CAPTURE_NOT_IP,
  CAPTURE_OK,
  CAPTURE_REASONS,
  CAPTURE_TRUNCATED_LINK_HEADER,
  CAPTURE_TRUNCATED_RECORD,
  CAPTURE_UNKNOWN_INTERFACE,
  CAPTURE_UNSUPPORTED_LINK_TYPE,
} from './link-layer.js';

export interface CaptureFrame {
  /** 1-based frame number, counted as tshark counts them (packet records only). */
  index: number;
  /** Capture time in microseconds since the epoch; 0 for a pcapng Simple Packet Block (it has none). */
  tsMicros: number;
  /** LINKTYPE_* of the frame's interface; -1 when a pcapng block names an unknown interface. */
  linkType: number;
  /** The whole file buffer (not a copy); ipOff/ipLen index into it. */
  data: Buffer;
  /** Offset of the IP header in `data` when status is 0; otherwise the start of the record's bytes. */
  ipOff: number;
  /** Bytes from ipOff to the end of the captured frame; 0 when status is not 0. */
  ipLen: number;
  /** 0 ok, else a CAPTURE_* code. */
  status: number;
  /** '' or the stable reason for `status` (CAPTURE_REASONS). */
  reason: string;
}

// Classic pcap magics as read little-endian from the first 4 bytes.
const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAP_MAGIC_US_SWAPPED = 0xd4c3b2a1;
const PCAP_MAGIC_NS_SWAPPED = 0x4d3cb2a1;
const PCAP_FILE_HEADER = 24;
const PCAP_RECORD_HEADER = 16;
/**
 * Largest record accepted from a classic pcap: Wireshark's and libpcap's
 * maximum snapshot length (262144, MAXIMUM_SNAPLEN) for the link types read
 * here. A larger incl_len is a corrupt header, not a packet.
 */
const PCAP_MAX_RECORD = 262144;

// pcapng block types (draft-ietf-opsawg-pcapng section 11.1).
const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_OPB = 0x00000002;
const BT_SPB = 0x00000003;
const BT_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const SHB_MIN = 28;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

type Format = 'pcap' | 'pcapng';

function detect(buf: Buffer): Format | null {
  if (buf.length < 12) return null;
  const magic = buf.readUInt32LE(0);
  if (
    magic === PCAP_MAGIC_US ||
    magic === PCAP_MAGIC_NS ||
    magic === PCAP_MAGIC_US_SWAPPED ||
    magic === PCAP_MAGIC_NS_SWAPPED
  ) {
    return buf.length >= PCAP_FILE_HEADER ? 'pcap' : null;
  }
  if (magic === BT_SHB) {
    const bom = buf.readUInt32LE(8);
    if (bom !== BYTE_ORDER_MAGIC && buf.readUInt32BE(8) !== BYTE_ORDER_MAGIC) return null;
    return buf.length >= SHB_MIN ? 'pcapng' : null;
  }
  return null;
}

/** True when `buf` starts with a complete pcap file header or pcapng section header. */
export function isCapture(buf: Buffer): boolean {
  return detect(buf) !== null;
}

/**
 * True when `buf` starts with a pcap magic or the pcapng section block type,
 * whole header or not: such a file is a capture, perhaps a broken one, and
 * never a SIP message (no method or "SIP/2.0" starts with those bytes).
 */
export function startsLikeCapture(buf: Buffer): boolean {
  if (buf.length < 4) return false;
  const magic = buf.readUInt32LE(0);
  return magic === PCAP_MAGIC_US || magic === PCAP_MAGIC_NS || magic === PCAP_MAGIC_US_SWAPPED || magic === PCAP_MAGIC_NS_SWAPPED || magic === BT_SHB;
}

/**
 * Iterate the frames of the capture in `buf`. Throws InputError naming
 * `file` at once (not on the first next()) if the header is neither pcap
 * nor pcapng; never throws afterwards. Each yielded frame is a new object.
 */
export function readCapture(file: string, buf: Buffer): Generator<CaptureFrame> {
  const format = detect(buf);
  if (format === null) {
    throw new InputError(file, 'not a pcap or pcapng capture (unknown or incomplete file header)');
  }
  return format === 'pcap' ? readPcap(buf) : readPcapng(buf);
}

function frame(
  buf: Buffer,
  index: number,
  tsMicros: number,
  linkType: number,
  dataOff: number,
  dataLen: number,
  loc: IpLocation,
): CaptureFrame {
  const status = linkType < 0 ? CAPTURE_UNKNOWN_INTERFACE : linkToIp(linkType, buf, dataOff, dataLen, loc);
  const ok = status === CAPTURE_OK;
  return {
    index,
    tsMicros,
    linkType,
    data: buf,
    ipOff: ok ? loc.ipOff : dataOff,
    ipLen: ok ? loc.ipLen : 0,
    status,
    reason: CAPTURE_REASONS[status] ?? '',
  };
}

/** A frame that ends the capture: the record at `at` cannot be read. */
function broken(buf: Buffer, index: number, linkType: number, at: number, status: number): CaptureFrame {
  return {
    index,
    tsMicros: 0,
    linkType,
    data: buf,
    ipOff: Math.min(at, buf.length),
    ipLen: 0,
    status,
    reason: CAPTURE_REASONS[status] ?? '',
  };
}

function* readPcap(buf: Buffer): Generator<CaptureFrame> {
  const magic = buf.readUInt32LE(0);
  const le = magic === PCAP_MAGIC_US || magic === PCAP_MAGIC_NS;
  const nano = magic === PCAP_MAGIC_NS || magic === PCAP_MAGIC_NS_SWAPPED;
  const u32 = le ? (o: number) => buf.readUInt32LE(o) : (o: number) => buf.readUInt32BE(o);
  // The low 16 bits are the link type; the top bits may carry the FCS length
  // (LT_FCS_LENGTH in pcap/pcap.h), which we need not know: the IP length
  // already says where the packet ends.
  const linkType = u32(20) & 0xffff;
  const loc: IpLocation = { ipOff: 0, ipLen: 0 };
  let pos = PCAP_FILE_HEADER;
  let index = 0;
  while (pos < buf.length) {
    index++;
    if (pos + PCAP_RECORD_HEADER > buf.length) {
      yield broken(buf, index, linkType, pos, CAPTURE_TRUNCATED_RECORD);
      return;
    }
    const sec = u32(pos);
    const frac = u32(pos + 4);
    const inclLen = u32(pos + 8);
    if (inclLen > PCAP_MAX_RECORD) {
      yield broken(buf, index, linkType, pos, CAPTURE_BAD_RECORD_LENGTH);
      return;
    }
    const dataOff = pos + PCAP_RECORD_HEADER;
    if (dataOff + inclLen > buf.length) {
      yield broken(buf, index, linkType, dataOff, CAPTURE_TRUNCATED_RECORD);
      return;
    }
    const tsMicros = sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac);
    yield frame(buf, index, tsMicros, linkType, dataOff, inclLen, loc);
    pos = dataOff + inclLen;
  }
}

interface PcapngInterface {
  linkType: number;
  snaplen: number;
  /** Timestamp units per second (if_tsresol), 1e6 by default. */
  unitsPerSec: bigint;
  /** if_tsoffset in seconds, added to every timestamp. */
  offsetSec: number;
}

const MICROS = 1000000n;

function pcapngMicros(iface: PcapngInterface, high: number, low: number): number {
  const offset = iface.offsetSec * 1e6;
  if (iface.unitsPerSec === MICROS) return high * 4294967296 + low + offset;
  // Nanosecond timestamps since 1970 exceed 2^53, so divide exactly in BigInt.
  const units = (BigInt(high) << 32n) | BigInt(low);
  return Number((units * MICROS) / iface.unitsPerSec) + offset;
}

/** Parse an IDB body (link type, snaplen, options) at buf[body, bodyEnd). */
function parseIdb(buf: Buffer, body: number, bodyEnd: number, le: boolean): PcapngInterface {
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const iface: PcapngInterface = {
    linkType: u16(body),
    snaplen: le ? buf.readUInt32LE(body + 4) : buf.readUInt32BE(body + 4),
    unitsPerSec: MICROS,
    offsetSec: 0,
  };
  // Options: code (2), length (2), value padded to 4 bytes; opt_endofopt (0) ends them.
  // A malformed option ends option parsing; the interface keeps its defaults.
  let p = body + 8;
  while (p + 4 <= bodyEnd) {
    const code = u16(p);
    const len = u16(p + 2);
    const value = p + 4;
    if (code === 0 || value + len > bodyEnd) break;
    if (code === OPT_IF_TSRESOL && len >= 1) {
      // High bit set: a negative power of 2; clear: a negative power of 10.
      const v = buf[value]!;
      iface.unitsPerSec = (v & 0x80) !== 0 ? 1n << BigInt(v & 0x7f) : 10n ** BigInt(v);
      if (iface.unitsPerSec === 0n) iface.unitsPerSec = MICROS;
    } else if (code === OPT_IF_TSOFFSET && len >= 8) {
      iface.offsetSec = Number(le ? buf.readBigInt64LE(value) : buf.readBigInt64BE(value));
    }
    p = value + ((len + 3) & ~3);
  }
  return iface;
}

/**
 * Interfaces one pcapng section may describe. Real captures have a handful
 * (OPB numbers them in 16 bits); a file of nothing but 20-byte IDBs would
 * otherwise hold about three times its size in objects, up to the 2 GiB
 * read limit: past the heap.
 */
const MAX_INTERFACES = 65_536;

function* readPcapng(buf: Buffer): Generator<CaptureFrame> {
  const loc: IpLocation = { ipOff: 0, ipLen: 0 };
  let le = true;
  let interfaces: PcapngInterface[] = [];
  let pos = 0;
  let index = 0;
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));

  while (pos < buf.length) {
    // A frame index for a failure is the number the next packet would have had.
    const failIndex = index + 1;
    if (pos + 12 > buf.length) {
      yield broken(buf, failIndex, -1, pos, CAPTURE_TRUNCATED_RECORD);
      return;
    }
    // The SHB type reads the same in both orders; its byte-order magic sets
    // the order of everything up to the next SHB.
    const rawType = buf.readUInt32LE(pos);
    if (rawType === BT_SHB) {
      if (buf.readUInt32LE(pos + 8) === BYTE_ORDER_MAGIC) le = true;
      else if (buf.readUInt32BE(pos + 8) === BYTE_ORDER_MAGIC) le = false;
      else {
        yield broken(buf, failIndex, -1, pos, CAPTURE_BAD_SECTION_HEADER);
        return;
      }
      interfaces = [];
    }
    const type = u32(pos);
    const blockLen = u32(pos + 4);
    // Block lengths are multiples of 4 and include type, length and the trailing copy of the length.
    if (blockLen < 12 || blockLen % 4 !== 0 || (type === BT_SHB && blockLen < SHB_MIN)) {
      yield broken(buf, failIndex, -1, pos, CAPTURE_BAD_RECORD_LENGTH);
      return;
    }
    if (pos + blockLen > buf.length) {
      yield broken(buf, failIndex, -1, pos, CAPTURE_TRUNCATED_RECORD);
      return;
    }
    if (u32(pos + blockLen - 4) !== blockLen) {
      yield broken(buf, failIndex, -1, pos, CAPTURE_BAD_RECORD_LENGTH);
      return;
    }
    const body = pos + 8;
    const bodyEnd = pos + blockLen - 4;
    const bodyLen = bodyEnd - body;

    if (type === BT_IDB) {
      if (bodyLen < 8) {
        yield broken(buf, failIndex, -1, pos, CAPTURE_BAD_RECORD_LENGTH);
        return;
      }
      if (interfaces.length >= MAX_INTERFACES) {
        yield broken(buf, failIndex, -1, pos, CAPTURE_BAD_SECTION_HEADER);
        return;
      }
      interfaces.push(parseIdb(buf, body, bodyEnd, le));
    } else if (type === BT_EPB || type === BT_OPB) {
      // EPB: interface id (4), ts high, ts low, captured len, original len, data.
      // OPB: interface id (2), drops count (2), then the same.
      if (bodyLen < 20) {
        yield broken(buf, failIndex, -1, pos, CAPTURE_BAD_RECORD_LENGTH);
        return;
      }
      const ifId = type === BT_EPB ? u32(body) : le ? buf.readUInt16LE(body) : buf.readUInt16BE(body);
      const capLen = u32(body + 12);
      if (capLen > bodyLen - 20) {
        yield broken(buf, failIndex, interfaces[ifId]?.linkType ?? -1, pos, CAPTURE_BAD_RECORD_LENGTH);
        return;
      }
      index++;
      const iface = interfaces[ifId];
      const dataOff = body + 20;
      if (iface === undefined) {
        yield frame(buf, index, 0, -1, dataOff, capLen, loc);
      } else {
        yield frame(buf, index, pcapngMicros(iface, u32(body + 4), u32(body + 8)), iface.linkType, dataOff, capLen, loc);
      }
    } else if (type === BT_SPB) {
      // SPB: original length, then data padded to 4; always interface 0, no
      // timestamp. Captured length is the smallest of the original length, the
      // snaplen and the room in the block (section 4.4).
      if (bodyLen < 4) {
        yield broken(buf, failIndex, -1, pos, CAPTURE_BAD_RECORD_LENGTH);
        return;
      }
      index++;
      const iface = interfaces[0];
      let capLen = Math.min(u32(body), bodyLen - 4);
      if (iface !== undefined && iface.snaplen > 0 && iface.snaplen < capLen) capLen = iface.snaplen;
      yield frame(buf, index, 0, iface === undefined ? -1 : iface.linkType, body + 4, capLen, loc);
    }
    // Any other block (NRB, ISB, DSB, custom ...) carries no packet: skip it.
    pos += blockLen;
  }
}
