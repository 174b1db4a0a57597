// Property tests for decodeIp: it never throws on random or damaged input,
// every offset it reports stays inside [off, off+len), and it never looks past
// `len` (decoding a packet inside a larger buffer of random bytes gives the
// same answer as decoding an exact copy).

import t from 'tap';
import fc from 'fast-check';
import { decodeIp } from '../../src/packet/decode-ip.js';
import { DECODE_OK, DECODE_REASONS, PacketView, PROTO_TCP, PROTO_UDP } from '../../src/packet/packet-view.js';
import { checkProperty, ipv4, ipv6, tcp, udp, type Ext } from './packet-builders.js';

const LIMITS = { numRuns: 1500, interruptAfterTimeLimit: 20000 } as const;

/** Why the view breaks an invariant for buf[off, off+len), or '' if it holds. */
function invariantProblem(v: PacketView, status: number, off: number, len: number, bufLen: number): string {
  const end = Math.min(off + len, bufLen);
  if (!Number.isInteger(status) || status < 0 || status >= DECODE_REASONS.length) return `status ${status}`;
  if (v.family !== 0) {
    const n = v.family === 4 ? 4 : 16;
    if (v.srcOff < off || v.srcOff + n > end) return `srcOff ${v.srcOff}`;
    if (v.dstOff < off || v.dstOff + n > end) return `dstOff ${v.dstOff}`;
  }
  if (!(v.payloadLen >= 0)) return `payloadLen ${v.payloadLen}`;
  if ((v.payloadLen > 0 || status === DECODE_OK) && (v.payloadOff < off || v.payloadOff + v.payloadLen > end)) {
    return `payload ${v.payloadOff}+${v.payloadLen} outside [${off}, ${end})`;
  }
  if (status === DECODE_OK && v.proto !== PROTO_UDP && v.proto !== PROTO_TCP) return `ok with proto ${v.proto}`;
  if (status === DECODE_OK && v.family === 0) return 'ok without a family';
  for (const x of [v.srcPort, v.dstPort]) if (!(x >= 0 && x <= 0xffff)) return `port ${x}`;
  if (!(v.tcpSeq >= 0 && v.tcpSeq <= 0xffffffff)) return `seq ${v.tcpSeq}`;
  if (!(v.tcpFlags >= 0 && v.tcpFlags <= 0xff)) return `flags ${v.tcpFlags}`;
  return '';
}

/** Every field, offsets made relative to `base` (0 stays 0: "not set"). */
function snapshot(v: PacketView, status: number, base: number): string {
  const rel = (x: number) => (x === 0 ? 0 : x - base);
  return JSON.stringify([
    status,
    v.family,
    v.proto,
    rel(v.srcOff),
    rel(v.dstOff),
    v.srcPort,
    v.dstPort,
    rel(v.payloadOff),
    v.payloadLen,
    v.truncated,
    v.fragment,
    v.tcpFlags,
    v.tcpSeq,
  ]);
}

// --- generators --------------------------------------------------------------

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

const transport = fc.oneof(
  fc.record({ sport: fc.nat(0xffff), dport: fc.nat(0xffff), data: bytes(80) }).map((s) => ({ proto: 17, b: udp(s) })),
  fc
    .record({
      seq: fc.nat(0xffffffff),
      flags: fc.nat(0xff),
      options: fc.array(fc.nat(0xff), { maxLength: 40 }),
      data: bytes(80),
    })
    .map((s) => ({ proto: 6, b: tcp(s) })),
  bytes(40).map((b) => ({ proto: 1, b })),
);

const ext: fc.Arbitrary<Ext> = fc.oneof(
  fc.record({ type: fc.constantFrom(0 as const, 43 as const, 60 as const), len: fc.integer({ min: 1, max: 4 }).map((n) => n * 8) }),
  fc.record({ type: fc.constant(51 as const), len: fc.integer({ min: 3, max: 8 }).map((n) => n * 4) }),
  fc.record({ type: fc.constant(44 as const), offset: fc.oneof(fc.constant(0), fc.nat(0x1fff)), more: fc.boolean() }),
);

const validPacket: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .record({
      t: transport,
      options: fc.array(fc.nat(0xff), { maxLength: 40 }),
      moreFragments: fc.boolean(),
      fragOffset: fc.oneof(fc.constant(0), fc.nat(0x1fff)),
    })
    .map(({ t, options, moreFragments, fragOffset }) => ipv4({ proto: t.proto, payload: t.b, options, moreFragments, fragOffset })),
  fc
    .record({ t: transport, exts: fc.array(ext, { maxLength: 10 }) })
    .map(({ t, exts }) => ipv6({ next: t.proto === 1 ? 58 : t.proto, exts, payload: t.b })),
);

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'u16'; field: number; value: number }
  | { kind: 'byte'; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  // Length-bearing 16-bit fields: IPv4 total length (2), IPv6 payload length (4),
  // UDP length right after a 20- or 40-byte IP header (24, 44), TCP data offset byte region (32, 52).
  fc.record({
    kind: fc.constant('u16' as const),
    field: fc.constantFrom(2, 4, 6, 24, 44, 32, 52),
    value: fc.oneof(fc.nat(0xffff), fc.constantFrom(0, 1, 7, 8, 19, 20, 39, 40, 0xffff)),
  }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.nat(0xff) }),
);

function mutate(pkt: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(pkt);
  for (const m of ms) {
    if (b.length === 0) break;
    if (m.kind === 'flip') b[m.at % b.length] = b[m.at % b.length]! ^ (1 << m.bit);
    else if (m.kind === 'byte') b[m.at % b.length] = m.value;
    else if (m.kind === 'truncate') b = b.subarray(0, m.at % (b.length + 1));
    else if (m.field + 2 <= b.length) b.writeUInt16BE(m.value, m.field);
  }
  return b;
}

// Random bytes, but mostly starting with an IPv4 or IPv6 version nibble so the decoder gets past byte 0.
const randomPacket = fc
  .tuple(fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x00, 0xff), bytes(200))
  .map(([first, rest]) => Buffer.concat([Buffer.from([first]), rest]));

const damagedPacket = fc.tuple(validPacket, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([p, ms]) => mutate(p, ms));

const anyPacket = fc.oneof(validPacket, damagedPacket, randomPacket);

// --- properties --------------------------------------------------------------

t.test('valid generated packets decode OK and round-trip their fields', async (t) => {
  const v = new PacketView();
  checkProperty(
    t,
    'built UDP/TCP packets without non-first fragments decode OK',
    fc.property(
      fc.record({
        family: fc.constantFrom(4, 6),
        proto: fc.constantFrom(6, 17),
        sport: fc.nat(0xffff),
        dport: fc.nat(0xffff),
        data: bytes(100),
        exts: fc.array(ext.filter((e) => e.type !== 44), { maxLength: 8 }),
      }),
      (s) => {
        const seg = s.proto === 17 ? udp(s) : tcp(s);
        const pkt = s.family === 4 ? ipv4({ proto: s.proto, payload: seg }) : ipv6({ next: s.proto, exts: s.exts, payload: seg });
        const status = decodeIp(pkt, 0, pkt.length, v);
        return (
          status === DECODE_OK &&
          v.family === s.family &&
          v.proto === s.proto &&
          v.srcPort === s.sport &&
          v.dstPort === s.dport &&
          v.buf.subarray(v.payloadOff, v.payloadOff + v.payloadLen).equals(s.data) &&
          !v.truncated
        );
      },
    ),
    LIMITS,
  );
});

t.test('never throws, offsets stay in range', async (t) => {
  const v = new PacketView();
  checkProperty(
    t,
    'random, valid and damaged packets',
    fc.property(anyPacket, fc.nat(), fc.nat(), (pkt, a, b) => {
      // Any window [off, off+len) of the buffer, including empty and past-the-end lengths.
      const off = pkt.length === 0 ? 0 : a % pkt.length;
      const len = b % (pkt.length - off + 5);
      const status = decodeIp(pkt, off, len, v);
      const problem = invariantProblem(v, status, off, len, pkt.length);
      if (problem !== '') throw new Error(`${problem} (status ${DECODE_REASONS[status]})`);
      return true;
    }),
    LIMITS,
  );
});

t.test('never reads past len: embedded in random bytes == an exact copy', async (t) => {
  const a = new PacketView();
  const b = new PacketView();
  checkProperty(
    t,
    'decode(random ++ pkt ++ random, off, len) equals decode(copy, 0, len)',
    fc.property(anyPacket, bytes(64), bytes(64), (pkt, before, after) => {
      const exact = Buffer.from(pkt); // its own memory: nothing beyond it to read
      const big = Buffer.concat([before, pkt, after]);
      const s1 = decodeIp(exact, 0, exact.length, a);
      const s2 = decodeIp(big, before.length, pkt.length, b);
      if (pkt.length > 0 && invariantProblem(b, s2, before.length, pkt.length, big.length) !== '') return false;
      return snapshot(a, s1, 0) === snapshot(b, s2, before.length);
    }),
    LIMITS,
  );
});
