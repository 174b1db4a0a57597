// Builders for hand-made packets and capture files used by the packet tests.
// They write fields the way the RFCs lay them out, with overrides so a test
// can make any length field lie.

import fc from 'fast-check';
import type { Test } from 'tap';
import { parseIp } from '../../src/packet/address.js';

export function ip(text: string): Uint8Array {
  const parsed = parseIp(text);
  if (parsed === null) throw new Error(`test address ${text} does not parse`);
  return parsed.bytes;
}

export interface UdpSpec {
  sport?: number;
  dport?: number;
  data?: Buffer | string;
  /** Override the UDP length field. */
  length?: number;
}

export function udp(spec: UdpSpec = {}): Buffer {
  const data = Buffer.from(spec.data ?? 'OPTIONS sip:100@192.0.2.1 SIP/2.0\r\n\r\n');
  const b = Buffer.alloc(8 + data.length);
  b.writeUInt16BE(spec.sport ?? 5060, 0);
  b.writeUInt16BE(spec.dport ?? 5060, 2);
  b.writeUInt16BE(spec.length ?? 8 + data.length, 4);
  data.copy(b, 8);
  return b;
}

export interface TcpSpec {
  ack?: number;
  sport?: number;
  dport?: number;
  seq?: number;
  flags?: number;
  /** Option bytes, padded with zeros (end of option list) to a multiple of 4. */
  options?: number[];
  data?: Buffer | string;
  /** Override the data offset nibble (in 32-bit words). */
  dataOffsetWords?: number;
}

export function tcp(spec: TcpSpec = {}): Buffer {
  const opts = spec.options ?? [];
  const optLen = (opts.length + 3) & ~3;
  const data = Buffer.from(spec.data ?? 'REGISTER sip:pbx SIP/2.0\r\n\r\n');
  const b = Buffer.alloc(20 + optLen + data.length);
  b.writeUInt16BE(spec.sport ?? 40000, 0);
  b.writeUInt16BE(spec.dport ?? 5060, 2);
  b.writeUInt32BE(spec.seq ?? 1, 4);
  b.writeUInt32BE(spec.ack ?? 0, 8);
  b[12] = (spec.dataOffsetWords ?? (20 + optLen) / 4) << 4;
  b[13] = spec.flags ?? 0x18;
  b.writeUInt16BE(65535, 14);
  Buffer.from(opts).copy(b, 20);
  data.copy(b, 20 + optLen);
  return b;
}

export interface Ipv4Spec {
  src?: string;
  dst?: string;
  proto?: number;
  payload: Buffer;
  /** Option bytes (padded to a multiple of 4). */
  options?: number[];
  /** Override the IHL nibble (32-bit words). */
  ihlWords?: number;
  /** Override the total length field. */
  totalLength?: number;
  moreFragments?: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
}

export function ipv4(spec: Ipv4Spec): Buffer {
  const opts = spec.options ?? [];
  const optLen = (opts.length + 3) & ~3;
  const hl = 20 + optLen;
  const b = Buffer.alloc(hl + spec.payload.length);
  b[0] = 0x40 | (spec.ihlWords ?? hl / 4);
  b.writeUInt16BE(spec.totalLength ?? b.length, 2);
  b.writeUInt16BE(0x1234, 4);
  // MF for fragments; otherwise DF on an unfragmented packet, as Linux sends UDP.
  const fragOffset = spec.fragOffset ?? 0;
  const flags = spec.moreFragments ? 0x2000 : fragOffset === 0 ? 0x4000 : 0;
  b.writeUInt16BE(flags | fragOffset, 6);
  b[8] = 64;
  b[9] = spec.proto ?? 17;
  Buffer.from(ip(spec.src ?? '192.0.2.10')).copy(b, 12);
  Buffer.from(ip(spec.dst ?? '198.51.100.20')).copy(b, 16);
  Buffer.from(opts).copy(b, 20);
  spec.payload.copy(b, hl);
  return b;
}

/** One IPv6 extension header in a chain; the builder fills its next-header byte. */
export type Ext =
  | { type: 0 | 43 | 60; /** Total length in bytes, a multiple of 8, >= 8. */ len?: number }
  | { type: 51; /** Total length in bytes, a multiple of 4, >= 12. */ len?: number }
  | { type: 44; offset?: number; more?: boolean };

export interface Ipv6Spec {
  src?: string;
  dst?: string;
  /** Next header after the extension chain. */
  next?: number;
  exts?: Ext[];
  payload: Buffer;
  /** Override the payload length field. */
  payloadLength?: number;
}

export function ipv6(spec: Ipv6Spec): Buffer {
  const exts = spec.exts ?? [];
  const parts: Buffer[] = [];
  for (let i = 0; i < exts.length; i++) {
    const e = exts[i]!;
    const nextType = i + 1 < exts.length ? exts[i + 1]!.type : (spec.next ?? 17);
    let h: Buffer;
    if (e.type === 44) {
      h = Buffer.alloc(8);
      h.writeUInt16BE(((e.offset ?? 0) << 3) | (e.more ? 1 : 0), 2);
      h.writeUInt32BE(0xabcdef01, 4);
    } else if (e.type === 51) {
      const len = e.len ?? 12;
      h = Buffer.alloc(len);
      h[1] = len / 4 - 2;
    } else {
      const len = e.len ?? 8;
      h = Buffer.alloc(len);
      h[1] = len / 8 - 1;
      // PadN option filling the rest (RFC 8200 section 4.2), so the header is well formed.
      if (e.type !== 43) {
        h[2] = 1;
        h[3] = len - 4;
      }
    }
    h[0] = nextType;
    parts.push(h);
  }
  const first = exts.length > 0 ? exts[0]!.type : (spec.next ?? 17);
  const body = Buffer.concat([...parts, spec.payload]);
  const b = Buffer.alloc(40 + body.length);
  b.writeUInt32BE(0x60000000, 0);
  b.writeUInt16BE(spec.payloadLength ?? body.length, 4);
  b[6] = first;
  b[7] = 64;
  Buffer.from(ip(spec.src ?? '2001:db8::10')).copy(b, 8);
  Buffer.from(ip(spec.dst ?? '2001:db8::20')).copy(b, 24);
  body.copy(b, 40);
  return b;
}

// ---------------------------------------------------------------------------
// Link layers

export function ethernet(ethertype: number, payload: Buffer, vlanTags: number[] = []): Buffer {
  const tags = Buffer.alloc(vlanTags.length * 4);
  // Each tag: its TPID sits where the ethertype would be, then TCI; the last TPID goes in the header.
  let outer = ethertype;
  if (vlanTags.length > 0) outer = vlanTags[0]!;
  for (let i = 0; i < vlanTags.length; i++) {
    tags.writeUInt16BE(100 + i, i * 4); // TCI: VLAN id
    tags.writeUInt16BE(i + 1 < vlanTags.length ? vlanTags[i + 1]! : ethertype, i * 4 + 2);
  }
  const h = Buffer.alloc(14);
  Buffer.from([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2]).copy(h, 0);
  h.writeUInt16BE(outer, 12);
  return Buffer.concat([h, tags, payload]);
}

export function sll1(protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // to us
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  Buffer.from([0x02, 0, 0, 0, 0, 1]).copy(h, 6);
  h.writeUInt16BE(protocol, 14);
  return Buffer.concat([h, payload]);
}

export function sll2(protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(2, 4); // ifindex
  h.writeUInt16BE(1, 8); // ARPHRD_ETHER
  h[10] = 0; // to us
  h[11] = 6;
  Buffer.from([0x02, 0, 0, 0, 0, 1]).copy(h, 12);
  return Buffer.concat([h, payload]);
}

// ---------------------------------------------------------------------------
// Capture files

export interface PcapRecord {
  sec: number;
  /** Microseconds, or nanoseconds in a nanosecond file. */
  frac: number;
  data: Buffer;
  /** Override incl_len. */
  inclLen?: number;
}

export function pcap(opts: { le?: boolean; nano?: boolean; linkType: number; records: PcapRecord[] }): Buffer {
  const le = opts.le ?? true;
  const w32 = (b: Buffer, v: number, o: number) => (le ? b.writeUInt32LE(v >>> 0, o) : b.writeUInt32BE(v >>> 0, o));
  const w16 = (b: Buffer, v: number, o: number) => (le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
  const h = Buffer.alloc(24);
  w32(h, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(h, 2, 4);
  w16(h, 4, 6);
  w32(h, 262144, 16);
  w32(h, opts.linkType, 20);
  const parts: Buffer[] = [h];
  for (const r of opts.records) {
    const rh = Buffer.alloc(16);
    w32(rh, r.sec, 0);
    w32(rh, r.frac, 4);
    w32(rh, r.inclLen ?? r.data.length, 8);
    w32(rh, r.data.length, 12);
    parts.push(rh, r.data);
  }
  return Buffer.concat(parts);
}

/** Writer for one pcapng section in a chosen byte order. */
export class PcapngSection {
  private blocks: Buffer[] = [];
  constructor(readonly le = true) {}

  private u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return b;
  }

  private u16(v: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  }

  private pad(b: Buffer): Buffer {
    return Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  }

  private option(code: number, value: Buffer): Buffer {
    return Buffer.concat([this.u16(code), this.u16(value.length), this.pad(value)]);
  }

  /** Append a block with a correct length; `lengthOverride` makes the leading length lie. */
  block(type: number, unpadded: Buffer, lengthOverride?: number): this {
    const body = this.pad(unpadded);
    const len = 12 + body.length;
    this.blocks.push(Buffer.concat([this.u32(type), this.u32(lengthOverride ?? len), body, this.u32(len)]));
    return this;
  }

  idb(linkType: number, opts: { snaplen?: number; tsresol?: number; tsoffsetSec?: number } = {}): this {
    const options: Buffer[] = [];
    if (opts.tsresol !== undefined) options.push(this.option(9, Buffer.from([opts.tsresol])));
    if (opts.tsoffsetSec !== undefined) {
      const v = Buffer.alloc(8);
      if (this.le) v.writeBigInt64LE(BigInt(opts.tsoffsetSec));
      else v.writeBigInt64BE(BigInt(opts.tsoffsetSec));
      options.push(this.option(14, v));
    }
    if (options.length > 0) options.push(this.u32(0)); // opt_endofopt
    return this.block(1, Buffer.concat([this.u16(linkType), this.u16(0), this.u32(opts.snaplen ?? 0), ...options]));
  }

  /** Enhanced Packet Block; `units` is the raw 64-bit timestamp as a bigint. */
  epb(ifId: number, units: bigint, data: Buffer, capLenOverride?: number): this {
    const high = Number(units >> 32n);
    const low = Number(units & 0xffffffffn);
    return this.block(
      6,
      Buffer.concat([
        this.u32(ifId),
        this.u32(high),
        this.u32(low),
        this.u32(capLenOverride ?? data.length),
        this.u32(data.length),
        this.pad(data),
      ]),
    );
  }

  /** Obsolete Packet Block (interface id is 16 bits, then a drops count). */
  opb(ifId: number, units: bigint, data: Buffer): this {
    return this.block(
      2,
      Buffer.concat([
        this.u16(ifId),
        this.u16(0),
        this.u32(Number(units >> 32n)),
        this.u32(Number(units & 0xffffffffn)),
        this.u32(data.length),
        this.u32(data.length),
        this.pad(data),
      ]),
    );
  }

  spb(data: Buffer, origLen?: number): this {
    return this.block(3, Buffer.concat([this.u32(origLen ?? data.length), this.pad(data)]));
  }

  /** The section: SHB first, then the blocks. */
  build(): Buffer {
    const shbBody = Buffer.concat([this.u32(0x1a2b3c4d), this.u16(1), this.u16(0), Buffer.alloc(8, 0xff)]);
    const shbLen = 12 + shbBody.length;
    const shb = Buffer.concat([Buffer.from([0x0a, 0x0d, 0x0d, 0x0a]), this.u32(shbLen), shbBody, this.u32(shbLen)]);
    return Buffer.concat([shb, ...this.blocks]);
  }
}

// ---------------------------------------------------------------------------
// Property checks reported as tap assertions (fc.assert alone adds none).


/** Run a fast-check property and record one pass/fail assertion with the counterexample. */
export function checkProperty<Ts>(t: Test, name: string, property: fc.IProperty<Ts>, params: fc.Parameters<Ts>): void {
  const details = fc.check(property, params);
  const report = details.failed ? `\n${fc.defaultReportMessage(details) ?? ''}` : '';
  t.ok(!details.failed && details.numRuns > 0, `${name} (${details.numRuns} runs)${report}`);
}
