import t from 'tap';
import { decodeIp, MAX_IPV6_EXT_HEADERS } from '../../src/packet/decode-ip.js';
import { formatIp } from '../../src/packet/address.js';
import {
  DECODE_BAD_LENGTH,
  DECODE_BAD_VERSION,
  DECODE_FRAGMENT,
  DECODE_NOT_UDP_TCP,
  DECODE_OK,
  DECODE_REASONS,
  DECODE_TOO_MANY_EXT,
  DECODE_TRUNCATED,
  PacketView,
  PROTO_TCP,
  PROTO_UDP,
} from '../../src/packet/packet-view.js';
import { ipv4, ipv6, tcp, udp, type Ext } from './packet-builders.js';

function decode(buf: Buffer, off = 0, len = buf.length - off): { status: number; v: PacketView } {
  const v = new PacketView();
  return { status: decodeIp(buf, off, len, v), v };
}

function addr(v: PacketView, which: 'src' | 'dst'): string {
  return formatIp(v.buf, which === 'src' ? v.srcOff : v.dstOff, v.family === 6 ? 6 : 4);
}

function payload(v: PacketView): string {
  return v.buf.toString('latin1', v.payloadOff, v.payloadOff + v.payloadLen);
}

const SIP = 'OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n';

t.test('IPv4/UDP: every field', async (t) => {
  const pkt = ipv4({ src: '10.99.0.1', dst: '10.99.0.2', payload: udp({ sport: 5070, dport: 5060, data: SIP }) });
  const { status, v } = decode(pkt);
  t.equal(status, DECODE_OK);
  t.equal(DECODE_REASONS[status], 'ok');
  t.equal(v.family, 4);
  t.equal(v.proto, PROTO_UDP);
  t.equal(addr(v, 'src'), '10.99.0.1');
  t.equal(addr(v, 'dst'), '10.99.0.2');
  t.equal(v.srcPort, 5070);
  t.equal(v.dstPort, 5060);
  t.equal(v.payloadOff, 28);
  t.equal(payload(v), SIP);
  t.equal(v.truncated, false);
  t.equal(v.fragment, false);
  t.equal(v.tcpFlags, 0);
  t.equal(v.tcpSeq, 0);
  t.equal(v.buf, pkt);
});

t.test('IPv4 options move the transport header (IHL)', async (t) => {
  // Record Route option (RFC 791): type 7, length 7, pointer 4, one empty slot; padded to 8.
  const pkt = ipv4({ options: [7, 7, 4, 0, 0, 0, 0], payload: udp({ data: SIP }) });
  const { status, v } = decode(pkt);
  t.equal(status, DECODE_OK);
  t.equal(v.payloadOff, 28 + 8);
  t.equal(payload(v), SIP);
});

t.test('Ethernet padding after a short IP packet is not payload', async (t) => {
  const pkt = ipv4({ payload: udp({ data: 'x' }) });
  const padded = Buffer.concat([pkt, Buffer.alloc(17, 0xee)]);
  const { status, v } = decode(padded);
  t.equal(status, DECODE_OK);
  t.equal(v.payloadLen, 1);
  t.equal(v.truncated, false);
});

t.test('IP length longer than the buffer: clipped and flagged truncated', async (t) => {
  const pkt = ipv4({ payload: udp({ data: SIP }) });
  const cut = pkt.subarray(0, pkt.length - 10);
  const { status, v } = decode(cut);
  t.equal(status, DECODE_OK);
  t.equal(v.truncated, true);
  t.equal(v.payloadLen, SIP.length - 10);
  t.equal(payload(v), SIP.slice(0, -10));
});

t.test('UDP length: shorter trims, longer or < 8 is a lie', async (t) => {
  const short = decode(ipv4({ payload: udp({ data: SIP, length: 8 + 7 }) }));
  t.equal(short.status, DECODE_OK);
  t.equal(payload(short.v), SIP.slice(0, 7));

  const long = decode(ipv4({ payload: udp({ data: SIP, length: 8 + SIP.length + 1 }) }));
  t.equal(long.status, DECODE_BAD_LENGTH);
  t.equal(long.v.srcPort, 5060, 'ports read before the length check are kept');

  for (const bad of [0, 7]) {
    t.equal(decode(ipv4({ payload: udp({ length: bad }) })).status, DECODE_BAD_LENGTH, `udp length ${bad}`);
  }
});

t.test('IPv4 header lies', async (t) => {
  t.equal(decode(ipv4({ payload: udp(), ihlWords: 4 })).status, DECODE_BAD_LENGTH, 'IHL < 5');
  t.equal(decode(ipv4({ payload: udp(), totalLength: 19 })).status, DECODE_BAD_LENGTH, 'total < header');
  t.equal(decode(ipv4({ payload: udp(), totalLength: 24 })).status, DECODE_BAD_LENGTH, 'total ends inside UDP header');
  const ihl15 = ipv4({ payload: udp(), ihlWords: 15 });
  t.equal(decode(ihl15, 0, 40).status, DECODE_TRUNCATED, 'IHL past the buffer');
  t.equal(decode(ipv4({ payload: udp(), ihlWords: 15, totalLength: 50 })).status, DECODE_BAD_LENGTH, 'IHL past total');
});

t.test('IPv4 fragments', async (t) => {
  // First fragment: the UDP header is there, its length covers the whole datagram.
  const first = decode(ipv4({ moreFragments: true, payload: udp({ data: SIP, length: 3000 }) }));
  t.equal(first.status, DECODE_OK);
  t.equal(first.v.fragment, true);
  t.equal(first.v.dstPort, 5060);
  t.equal(payload(first.v), SIP);

  // Non-first fragments have no transport header, whatever MF says.
  for (const more of [true, false]) {
    const later = decode(ipv4({ moreFragments: more, fragOffset: 185, payload: Buffer.from(SIP) }));
    t.equal(later.status, DECODE_FRAGMENT, `offset 185 MF=${more}`);
    t.equal(later.v.family, 4);
    t.equal(later.v.proto, PROTO_UDP);
    t.equal(later.v.srcPort, 0);
    t.equal(payload(later.v), SIP);
  }
});

t.test('TCP: options, flags, unsigned sequence number, payload', async (t) => {
  // MSS 1460, SACK permitted, timestamps, window scale: 20 option bytes (data offset 10).
  const options = [2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
  const seg = tcp({ sport: 40001, dport: 5061, seq: 0xfedcba98, flags: 0x18, options, data: SIP });
  const { status, v } = decode(ipv4({ proto: 6, payload: seg }));
  t.equal(status, DECODE_OK);
  t.equal(v.proto, PROTO_TCP);
  t.equal(v.srcPort, 40001);
  t.equal(v.dstPort, 5061);
  t.equal(v.tcpSeq, 0xfedcba98);
  t.equal(v.tcpFlags, 0x18);
  t.equal(v.payloadOff, 20 + 40);
  t.equal(payload(v), SIP);

  const syn = decode(ipv6({ next: 6, payload: tcp({ flags: 0x02, seq: 0, data: '' }) }));
  t.equal(syn.status, DECODE_OK);
  t.equal(syn.v.tcpFlags, 0x02);
  t.equal(syn.v.payloadLen, 0);
});

t.test('TCP data offset lies', async (t) => {
  t.equal(decode(ipv4({ proto: 6, payload: tcp({ dataOffsetWords: 4 }) })).status, DECODE_BAD_LENGTH, 'doff < 5');
  // A 20-byte segment whose data offset claims 24 bytes of header.
  t.equal(decode(ipv4({ proto: 6, payload: tcp({ dataOffsetWords: 6, data: '' }) })).status, DECODE_BAD_LENGTH, 'doff past IP end');
  const withOpts = ipv4({ proto: 6, payload: tcp({ options: [2, 4, 5, 180], data: '' }) });
  t.equal(decode(withOpts, 0, withOpts.length - 2).status, DECODE_TRUNCATED, 'options cut by the buffer');
});

t.test('IPv6/UDP: every field', async (t) => {
  const pkt = ipv6({ src: '2001:db8::1', dst: 'fe80::2', payload: udp({ sport: 5062, dport: 5060, data: SIP }) });
  const { status, v } = decode(pkt);
  t.equal(status, DECODE_OK);
  t.equal(v.family, 6);
  t.equal(v.proto, PROTO_UDP);
  t.equal(addr(v, 'src'), '2001:db8::1');
  t.equal(addr(v, 'dst'), 'fe80::2');
  t.equal(v.srcPort, 5062);
  t.equal(v.payloadOff, 48);
  t.equal(payload(v), SIP);
});

t.test('IPv6 extension header chains', async (t) => {
  const chain: Ext[] = [
    { type: 0, len: 8 },
    { type: 43, len: 24 },
    { type: 60, len: 16 },
    { type: 44 }, // atomic fragment (RFC 6946): offset 0, M clear
    { type: 51, len: 24 },
  ];
  const { status, v } = decode(ipv6({ exts: chain, payload: udp({ data: SIP }) }));
  t.equal(status, DECODE_OK);
  t.equal(v.proto, PROTO_UDP);
  t.equal(v.fragment, false);
  t.equal(v.payloadOff, 40 + 8 + 24 + 16 + 8 + 24 + 8);
  t.equal(payload(v), SIP);

  const tcpChain = decode(ipv6({ exts: [{ type: 60, len: 8 }], next: 6, payload: tcp({ data: SIP }) }));
  t.equal(tcpChain.status, DECODE_OK);
  t.equal(tcpChain.v.proto, PROTO_TCP);
  t.equal(payload(tcpChain.v), SIP);
});

t.test('IPv6 fragments', async (t) => {
  const first = decode(ipv6({ exts: [{ type: 44, more: true }], payload: udp({ data: SIP, length: 4000 }) }));
  t.equal(first.status, DECODE_OK);
  t.equal(first.v.fragment, true);
  t.equal(payload(first.v), SIP);

  const later = decode(ipv6({ exts: [{ type: 0 }, { type: 44, offset: 100, more: true }], payload: Buffer.from(SIP) }));
  t.equal(later.status, DECODE_FRAGMENT);
  t.equal(later.v.proto, PROTO_UDP);
  t.equal(payload(later.v), SIP);
});

t.test('IPv6: ESP, no next header, ICMPv6 are not UDP/TCP', async (t) => {
  for (const next of [50, 59, 58]) {
    const { status, v } = decode(ipv6({ exts: [{ type: 0 }], next, payload: Buffer.alloc(16) }));
    t.equal(status, DECODE_NOT_UDP_TCP, `next header ${next}`);
    t.equal(v.proto, next);
    t.equal(v.payloadOff, 48);
  }
  t.equal(decode(ipv4({ proto: 1, payload: Buffer.alloc(8) })).status, DECODE_NOT_UDP_TCP, 'ICMP');
});

t.test('IPv6 extension header cap', async (t) => {
  const many = (n: number) => Array.from({ length: n }, (): Ext => ({ type: 60 }));
  t.equal(decode(ipv6({ exts: many(MAX_IPV6_EXT_HEADERS), payload: udp() })).status, DECODE_OK);
  t.equal(decode(ipv6({ exts: many(MAX_IPV6_EXT_HEADERS + 1), payload: udp() })).status, DECODE_TOO_MANY_EXT);
});

t.test('IPv6 lengths that lie', async (t) => {
  const pkt = ipv6({ exts: [{ type: 0, len: 16 }], payload: udp() });
  // The hop-by-hop header claims 16 bytes; a payload length of 12 ends inside it.
  const lying = Buffer.from(pkt);
  lying.writeUInt16BE(12, 4);
  t.equal(decode(lying).status, DECODE_BAD_LENGTH, 'ext header past payload length');
  // Same header, correct payload length, but the buffer ends inside it.
  t.equal(decode(pkt, 0, 40 + 12).status, DECODE_TRUNCATED, 'ext header past the buffer');
  // Ext header length field past everything.
  const big = Buffer.from(pkt);
  big[41] = 200;
  t.equal(decode(big).status, DECODE_BAD_LENGTH, 'ext length field past the packet');
  // Payload length 0 (a jumbogram's marker, RFC 2675) with UDP after it.
  t.equal(decode(ipv6({ payload: udp(), payloadLength: 0 })).status, DECODE_BAD_LENGTH);
});

t.test('bad version, empty input, bad arguments', async (t) => {
  const v = new PacketView();
  t.equal(decodeIp(Buffer.alloc(0), 0, 0, v), DECODE_BAD_VERSION);
  t.equal(decodeIp(Buffer.from([0x50, 0, 0, 0]), 0, 4, v), DECODE_BAD_VERSION);
  t.equal(decodeIp(Buffer.alloc(40), 0, 40, v), DECODE_BAD_VERSION);
  const pkt = ipv4({ payload: udp() });
  t.equal(decodeIp(pkt, -1, 10, v), DECODE_BAD_VERSION);
  t.equal(decodeIp(pkt, 0.5, 10, v), DECODE_BAD_VERSION);
  t.equal(decodeIp(pkt, pkt.length, 10, v), DECODE_BAD_VERSION);
  // A length past the end of the Buffer is clipped to it, not read past.
  t.equal(decodeIp(pkt, 0, pkt.length + 100, v), DECODE_OK);
  t.equal(v.truncated, false);
});

t.test('packet embedded at an offset: offsets are absolute, bytes outside are ignored', async (t) => {
  const pkt = ipv6({ exts: [{ type: 0 }], payload: udp({ data: SIP }) });
  const big = Buffer.concat([Buffer.alloc(37, 0x60), pkt, Buffer.alloc(50, 0xff)]);
  const a = decode(pkt);
  const b = decode(big, 37, pkt.length);
  t.equal(b.status, DECODE_OK);
  t.equal(b.v.srcOff, a.v.srcOff + 37);
  t.equal(b.v.payloadOff, a.v.payloadOff + 37);
  t.equal(b.v.payloadLen, a.v.payloadLen);
  t.equal(payload(b.v), SIP);
});

t.test('a reused view keeps nothing from the previous packet', async (t) => {
  const v = new PacketView();
  t.equal(decodeIp(ipv4({ proto: 6, moreFragments: true, payload: tcp({ seq: 77, ack: 0xfffffff0, flags: 0x12 }) }), 0, 100000, v), DECODE_OK);
  t.equal(v.tcpSeq, 77);
  t.equal(v.tcpAck, 0xfffffff0, 'the acknowledgment number, unsigned');
  t.equal(v.fragment, true);
  const cut = ipv6({ payload: udp({ data: SIP }) });
  t.equal(decodeIp(cut, 0, cut.length - 1, v), DECODE_OK);
  t.same(
    { ...v, buf: null },
    {
      buf: null,
      family: 6,
      proto: PROTO_UDP,
      srcOff: 8,
      dstOff: 24,
      srcPort: 5060,
      dstPort: 5060,
      payloadOff: 48,
      payloadLen: SIP.length - 1,
      truncated: true,
      fragment: false,
      tcpFlags: 0,
      tcpSeq: 0,
      tcpAck: 0,
    },
  );
  t.equal(decodeIp(Buffer.from([0x45]), 0, 1, v), DECODE_TRUNCATED);
  t.equal(v.family, 0);
  t.equal(v.payloadLen, 0);
  t.equal(v.truncated, false);
});

// Cut each packet at every length: below the IP header and the transport
// header the answer is TRUNCATED (the header says more is coming), from the
// payload on it is OK with `truncated` set, and the whole packet is OK.
t.test('every truncation point', async (t) => {
  const samples: Array<[string, Buffer]> = [
    ['ipv4/udp', ipv4({ payload: udp({ data: SIP }) })],
    ['ipv4+options/tcp+options', ipv4({ proto: 6, options: [1, 1, 1, 1], payload: tcp({ options: [2, 4, 5, 180, 1, 1, 1, 0] }) })],
    ['ipv4 first fragment', ipv4({ moreFragments: true, payload: udp({ data: SIP, length: 2000 }) })],
    [
      'ipv6 ext chain/udp',
      ipv6({ exts: [{ type: 0, len: 16 }, { type: 43, len: 24 }, { type: 44, more: true }, { type: 51 }, { type: 60 }], payload: udp({ data: SIP }) }),
    ],
    ['ipv6/tcp', ipv6({ next: 6, payload: tcp({ data: SIP }) })],
  ];
  for (const [name, pkt] of samples) {
    const full = decode(pkt);
    t.equal(full.status, DECODE_OK, `${name} whole`);
    t.equal(full.v.truncated, false);
    let mismatches = 0;
    for (let n = 0; n < pkt.length; n++) {
      const { status, v } = decode(pkt, 0, n);
      // The same cut made by the Buffer's end must give the same answer.
      const sub = decode(pkt.subarray(0, n));
      let want: number;
      if (n === 0) want = DECODE_BAD_VERSION;
      else if (n < full.v.payloadOff) want = DECODE_TRUNCATED;
      else want = DECODE_OK;
      const ok =
        status === want &&
        sub.status === want &&
        (want !== DECODE_OK ||
          (v.truncated && v.payloadOff === full.v.payloadOff && v.payloadLen === n - full.v.payloadOff && v.srcPort === full.v.srcPort));
      if (!ok) {
        mismatches++;
        t.fail(`${name} cut at ${n}: status ${status}/${sub.status}, want ${want}`);
      }
    }
    t.equal(mismatches, 0, `${name}: ${pkt.length} cut points`);
  }
});
