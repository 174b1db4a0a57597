import t from 'tap';
import {
  CAPTURE_BAD_RECORD_LENGTH,
  CAPTURE_BAD_SECTION_HEADER,
  CAPTURE_NOT_IP,
  CAPTURE_OK,
  CAPTURE_TRUNCATED_LINK_HEADER,
  CAPTURE_TRUNCATED_RECORD,
  CAPTURE_UNKNOWN_INTERFACE,
  CAPTURE_UNSUPPORTED_LINK_TYPE,
  isCapture,
  readCapture,
  type CaptureFrame,
} from '../../src/packet/capture-reader.js';
import { decodeIp } from '../../src/packet/decode-ip.js';
import { formatIp } from '../../src/packet/address.js';
import { DECODE_OK, PacketView } from '../../src/packet/packet-view.js';
import { InputError, SipwallError } from '../../src/errors.js';
import { ethernet, ipv4, ipv6, pcap, PcapngSection, sll1, sll2, udp } from './packet-builders.js';

const V4 = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: udp({ sport: 5070, data: 'OPTIONS v4' }) });
const V6 = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', payload: udp({ sport: 5080, data: 'OPTIONS v6' }) });
const ARP = Buffer.alloc(28, 1);

function frames(buf: Buffer): CaptureFrame[] {
  return [...readCapture('test.cap', buf)];
}

/** What a frame carries, decoded: status/reason, and for ok frames the source and payload. */
function summary(f: CaptureFrame): string {
  if (f.status !== CAPTURE_OK) return `${f.index} ${f.reason}`;
  const v = new PacketView();
  const st = decodeIp(f.data, f.ipOff, f.ipLen, v);
  if (st !== DECODE_OK) return `${f.index} decode-${st}`;
  const fam = v.family === 6 ? 6 : 4;
  return `${f.index} ${formatIp(v.buf, v.srcOff, fam)}:${v.srcPort} ${v.buf.toString('latin1', v.payloadOff, v.payloadOff + v.payloadLen)}`;
}

t.test('isCapture', async (t) => {
  const pc = pcap({ linkType: 1, records: [] });
  t.equal(isCapture(pc), true, 'empty pcap');
  t.equal(isCapture(pcap({ le: false, nano: true, linkType: 1, records: [] })), true, 'big-endian nanosecond pcap');
  t.equal(isCapture(new PcapngSection(false).build()), true, 'big-endian pcapng');
  t.equal(isCapture(pc.subarray(0, 23)), false, 'pcap header cut');
  t.equal(isCapture(Buffer.alloc(0)), false, 'empty');
  t.equal(isCapture(Buffer.from('OPTIONS sip:100@10.0.0.1 SIP/2.0\r\n\r\n')), false, 'SIP text');
  const badBom = new PcapngSection().build();
  badBom.writeUInt32LE(0x12345678, 8);
  t.equal(isCapture(badBom), false, 'pcapng with a bad byte-order magic');
});

t.test('a file that is not a capture throws InputError at once, naming the file', async (t) => {
  let err: unknown;
  try {
    readCapture('/tmp/register.txt', Buffer.from('REGISTER sip:pbx SIP/2.0\r\n\r\n'));
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof InputError);
  t.ok(err instanceof SipwallError);
  t.equal((err as InputError).code, 'SIPWALL_ERR_INPUT');
  t.equal((err as InputError).file, '/tmp/register.txt');
  t.match((err as Error).message, /\/tmp\/register\.txt/);
  t.throws(() => readCapture('x', Buffer.alloc(10)), InputError);
});

t.test('classic pcap: both byte orders, micro and nanosecond timestamps', async (t) => {
  for (const le of [true, false]) {
    for (const nano of [false, true]) {
      const buf = pcap({
        le,
        nano,
        linkType: 1,
        records: [
          { sec: 1700000000, frac: nano ? 123456789 : 123456, data: ethernet(0x0800, V4) },
          { sec: 4000000000, frac: nano ? 999999999 : 999999, data: ethernet(0x86dd, V6) },
        ],
      });
      const fs = frames(buf);
      const label = `${le ? 'LE' : 'BE'} ${nano ? 'ns' : 'us'}`;
      t.same(fs.map(summary), ['1 10.0.0.1:5070 OPTIONS v4', '2 2001:db8::1:5080 OPTIONS v6'], label);
      t.same(
        fs.map((f) => f.tsMicros),
        [1700000000123456, 4000000000999999],
        `${label} timestamps`,
      );
      t.equal(fs[0]!.data, buf, 'data is the file buffer itself');
      t.equal(fs[0]!.ipOff, 24 + 16 + 14);
      t.equal(fs[0]!.linkType, 1);
      t.equal(fs[0]!.reason, '');
    }
  }
});

t.test('Ethernet: VLAN tags, ARP, short frames', async (t) => {
  const buf = pcap({
    linkType: 1,
    records: [
      { sec: 1, frac: 0, data: ethernet(0x0800, V4, [0x8100]) },
      { sec: 2, frac: 0, data: ethernet(0x86dd, V6, [0x88a8, 0x8100]) },
      { sec: 3, frac: 0, data: ethernet(0x0806, ARP) },
      { sec: 4, frac: 0, data: ethernet(0x0800, V4, [0x9100, 0x8100]) },
      { sec: 5, frac: 0, data: ethernet(0x0800, V4, [0x8100, 0x8100, 0x8100, 0x8100, 0x8100]) },
      { sec: 6, frac: 0, data: ethernet(0x0800, V4).subarray(0, 10) },
      { sec: 7, frac: 0, data: ethernet(0x0800, V4, [0x8100]).subarray(0, 16) },
      { sec: 8, frac: 0, data: ethernet(0x05dc, V4) }, // an 802.3 length, not an ethertype
      { sec: 9, frac: 0, data: ethernet(0x0800, V4) },
    ],
  });
  const fs = frames(buf);
  t.same(fs.map(summary), [
    '1 10.0.0.1:5070 OPTIONS v4',
    '2 2001:db8::1:5080 OPTIONS v6',
    '3 not-ip',
    '4 10.0.0.1:5070 OPTIONS v4',
    '5 not-ip',
    '6 truncated-link-header',
    '7 truncated-link-header',
    '8 not-ip',
    '9 10.0.0.1:5070 OPTIONS v4',
  ]);
  t.equal(fs[1]!.ipOff - (fs[1]!.ipOff - fs[1]!.ipLen), fs[1]!.ipLen);
  t.equal(fs[2]!.status, CAPTURE_NOT_IP);
  t.equal(fs[2]!.ipLen, 0);
  t.equal(fs[5]!.status, CAPTURE_TRUNCATED_LINK_HEADER);
});

t.test('Linux cooked v1/v2, raw IP, IPv4/IPv6 link types', async (t) => {
  const cases: Array<[number, Buffer[], string[]]> = [
    [113, [sll1(0x0800, V4), sll1(0x86dd, V6), sll1(0x0806, ARP), sll1(0x8100, Buffer.concat([Buffer.from([0, 5, 0x08, 0]), V4]))], ['1 10.0.0.1:5070 OPTIONS v4', '2 2001:db8::1:5080 OPTIONS v6', '3 not-ip', '4 10.0.0.1:5070 OPTIONS v4']],
    [276, [sll2(0x0800, V4), sll2(0x86dd, V6), sll2(0x0806, ARP), sll2(0x0800, V4).subarray(0, 19)], ['1 10.0.0.1:5070 OPTIONS v4', '2 2001:db8::1:5080 OPTIONS v6', '3 not-ip', '4 truncated-link-header']],
    [101, [V4, V6, ARP, Buffer.alloc(0)], ['1 10.0.0.1:5070 OPTIONS v4', '2 2001:db8::1:5080 OPTIONS v6', '3 not-ip', '4 truncated-link-header']],
    [12, [V4, V6], ['1 10.0.0.1:5070 OPTIONS v4', '2 2001:db8::1:5080 OPTIONS v6']],
    [14, [V6, V4], ['1 2001:db8::1:5080 OPTIONS v6', '2 10.0.0.1:5070 OPTIONS v4']],
    [228, [V4, V6], ['1 10.0.0.1:5070 OPTIONS v4', '2 not-ip']],
    [229, [V4, V6], ['1 not-ip', '2 2001:db8::1:5080 OPTIONS v6']],
    [105, [V4, V6], ['1 unsupported-link-type', '2 unsupported-link-type']], // 802.11
  ];
  for (const [linkType, datas, want] of cases) {
    for (const le of [true, false]) {
      const fs = frames(pcap({ le, linkType, records: datas.map((data, i) => ({ sec: i, frac: 0, data })) }));
      t.same(fs.map(summary), want, `link type ${linkType} ${le ? 'LE' : 'BE'}`);
      t.ok(
        fs.every((f) => f.linkType === linkType),
        'frames carry the file link type',
      );
    }
  }
  // The FCS-length bits above the link type (LT_FCS_DATALINK_EXT) do not change it.
  const fcs = frames(pcap({ linkType: (1 << 28) | 0x04000000 | 1, records: [{ sec: 0, frac: 0, data: ethernet(0x0800, V4) }] }));
  t.same(fcs.map(summary), ['1 10.0.0.1:5070 OPTIONS v4']);
  t.equal(fcs[0]!.linkType, 1);
  t.equal(fcs[0]!.status, CAPTURE_OK);
});

t.test('classic pcap: truncated files and lying record lengths stop reading', async (t) => {
  const good = pcap({
    linkType: 1,
    records: [
      { sec: 1, frac: 0, data: ethernet(0x0800, V4) },
      { sec: 2, frac: 0, data: ethernet(0x0800, V4) },
    ],
  });
  const firstEnd = 24 + 16 + 14 + V4.length;
  t.same(frames(good.subarray(0, firstEnd)).map(summary), ['1 10.0.0.1:5070 OPTIONS v4'], 'cut between records');
  t.same(frames(good.subarray(0, firstEnd + 5)).map(summary), ['1 10.0.0.1:5070 OPTIONS v4', '2 truncated-record'], 'cut in a record header');
  const cutData = frames(good.subarray(0, good.length - 1));
  t.same(cutData.map(summary), ['1 10.0.0.1:5070 OPTIONS v4', '2 truncated-record'], 'cut in record data');
  t.equal(cutData[1]!.status, CAPTURE_TRUNCATED_RECORD);

  const lying = pcap({
    linkType: 1,
    records: [
      { sec: 1, frac: 0, data: ethernet(0x0800, V4) },
      { sec: 2, frac: 0, data: ethernet(0x0800, V4), inclLen: 0x7fffffff },
      { sec: 3, frac: 0, data: ethernet(0x0800, V4) },
    ],
  });
  const fs = frames(lying);
  t.same(fs.map(summary), ['1 10.0.0.1:5070 OPTIONS v4', '2 bad-record-length']);
  t.equal(fs[1]!.status, CAPTURE_BAD_RECORD_LENGTH);
  t.same(frames(pcap({ linkType: 1, records: [] })), [], 'header only: no frames');
});

t.test('pcapng: interfaces with their own link types and resolutions, EPB/SPB/OPB, skipped blocks', async (t) => {
  for (const le of [true, false]) {
    const s = new PcapngSection(le)
      .idb(1) // default resolution: microseconds
      .idb(113, { tsresol: 9 }) // nanoseconds
      .idb(101, { tsresol: 0x80 | 20, tsoffsetSec: 100 }) // 2^-20 s units, +100 s
      .idb(276, { tsresol: 3 }) // milliseconds
      .block(4, Buffer.alloc(8)) // Name Resolution Block: skipped
      .epb(0, 1700000000123456n, ethernet(0x0800, V4))
      .epb(1, 1700000000123456789n, sll1(0x86dd, V6))
      .block(5, Buffer.alloc(12)) // Interface Statistics Block: skipped
      .epb(2, (5n << 20n) | (1n << 19n), V4) // 5.5 s
      .epb(3, 1700000000123n, sll2(0x0800, V4))
      .block(0x40000bad, Buffer.from('custom block, copyable')) // custom block: skipped
      .opb(0, 42n, ethernet(0x0806, ARP))
      .epb(7, 0n, V4) // no such interface
      .epb(0, 1n, ethernet(0x0800, V4));
    const fs = frames(s.build());
    const label = le ? 'LE' : 'BE';
    t.same(
      fs.map(summary),
      [
        '1 10.0.0.1:5070 OPTIONS v4',
        '2 2001:db8::1:5080 OPTIONS v6',
        '3 10.0.0.1:5070 OPTIONS v4',
        '4 10.0.0.1:5070 OPTIONS v4',
        '5 not-ip',
        '6 unknown-interface',
        '7 10.0.0.1:5070 OPTIONS v4',
      ],
      label,
    );
    t.same(
      fs.map((f) => f.linkType),
      [1, 113, 101, 276, 1, -1, 1],
      `${label} link types`,
    );
    t.same(
      fs.map((f) => f.tsMicros),
      [1700000000123456, 1700000000123456, 105500000, 1700000000123000, 42, 0, 1],
      `${label} timestamps`,
    );
    t.equal(fs[5]!.status, CAPTURE_UNKNOWN_INTERFACE);
  }
});

t.test('pcapng: simple packet blocks take interface 0 and its snaplen', async (t) => {
  const s = new PcapngSection().idb(1, { snaplen: 14 + 20 + 8 + 3 }).spb(ethernet(0x0800, V4)).spb(ethernet(0x0800, V4).subarray(0, 40), 60);
  const fs = frames(s.build());
  // Snaplen 45 keeps 3 payload bytes; the second one's original length (60) is
  // more than the block holds (40), so it is cut at the block.
  t.same(fs.map(summary), ['1 10.0.0.1:5070 OPT', '2 decode-2']);
  t.same(
    fs.map((f) => [f.tsMicros, f.ipLen]),
    [
      [0, 31],
      [0, 26],
    ],
  );
  t.same(frames(new PcapngSection().spb(V4).build()).map(summary), ['1 unknown-interface'], 'SPB without an IDB');
});

t.test('pcapng: several sections, each with its own byte order and interfaces', async (t) => {
  const a = new PcapngSection(true).idb(101).idb(1).epb(1, 10n, ethernet(0x0800, V4)).build();
  const b = new PcapngSection(false).idb(1).epb(0, 20n, ethernet(0x86dd, V6)).epb(1, 30n, V4).build();
  const c = new PcapngSection(true).idb(229).epb(0, 40n, V6).build();
  const fs = frames(Buffer.concat([a, b, c]));
  t.same(fs.map(summary), [
    '1 10.0.0.1:5070 OPTIONS v4',
    '2 2001:db8::1:5080 OPTIONS v6',
    // Interface 1 existed in the first section, not in this one.
    '3 unknown-interface',
    '4 2001:db8::1:5080 OPTIONS v6',
  ]);
  t.same(
    fs.map((f) => f.tsMicros),
    [10, 20, 0, 40],
  );
});

t.test('pcapng: broken blocks stop reading', async (t) => {
  const ok = '1 10.0.0.1:5070 OPTIONS v4';
  const base = () => new PcapngSection().idb(1).epb(0, 1n, ethernet(0x0800, V4));
  const whole = base().epb(0, 2n, ethernet(0x0800, V4)).build();
  t.same(frames(whole).map(summary), [ok, ok.replace(/^1/, '2')]);

  t.same(frames(whole.subarray(0, whole.length - 4)).map(summary), [ok, '2 truncated-record'], 'cut in the last block');
  const lastBlock = whole.length - (12 + 20 + ((14 + V4.length + 3) & ~3));
  t.same(frames(whole.subarray(0, lastBlock + 6)).map(summary), [ok, '2 truncated-record'], 'cut in the last block header');

  const misaligned = base().block(6, Buffer.alloc(20), 33).epb(0, 3n, ethernet(0x0800, V4)).build();
  t.same(frames(misaligned).map(summary), [ok, '2 bad-record-length'], 'length not a multiple of 4');

  const tooSmall = base().block(6, Buffer.alloc(20), 8).build();
  t.same(frames(tooSmall).map(summary), [ok, '2 bad-record-length'], 'length below 12');

  const trailer = base().block(6, Buffer.alloc(20), 28).build(); // 32 bytes long, says 28 in front
  t.same(frames(trailer).map(summary), [ok, '2 bad-record-length'], 'trailing length differs');

  const capLenLies = base().epb(0, 2n, ethernet(0x0800, V4), 5000).epb(0, 3n, ethernet(0x0800, V4)).build();
  const fs = frames(capLenLies);
  t.same(fs.map(summary), [ok, '2 bad-record-length'], 'EPB captured length past its block');
  t.equal(fs[1]!.status, CAPTURE_BAD_RECORD_LENGTH);

  const shortIdb = new PcapngSection().block(1, Buffer.alloc(4)).build();
  t.same(frames(shortIdb).map(summary), ['1 bad-record-length'], 'IDB body too short');

  const second = new PcapngSection().idb(1).build();
  second.writeUInt32LE(0xdeadbeef, 8);
  const twoSections = Buffer.concat([base().build(), second]);
  const fs2 = frames(twoSections);
  t.same(fs2.map(summary), [ok, '2 bad-section-header']);
  t.equal(fs2[1]!.status, CAPTURE_BAD_SECTION_HEADER);

  // A section describing more interfaces than any capture has: stopped
  // before the interface table outgrows the heap (a file of bare IDBs).
  const manyIdbs = new PcapngSection();
  for (let i = 0; i < 65_536; i++) manyIdbs.idb(1);
  const fs4 = frames(manyIdbs.epb(65_535, 1n, ethernet(0x0800, V4)).idb(1).epb(0, 2n, ethernet(0x0800, V4)).build());
  t.same(fs4.map(summary), [ok, '2 bad-section-header'], 'the 65,537th interface of a section ends the read');

  // A broken option list ends option parsing; the interface keeps its defaults.
  const idbBody = Buffer.alloc(8 + 8);
  idbBody.writeUInt16LE(1, 0);
  idbBody.writeUInt16LE(9, 8); // if_tsresol ...
  idbBody.writeUInt16LE(200, 10); // ... claiming 200 bytes
  const badOpt = new PcapngSection().block(1, idbBody).epb(0, 7n, ethernet(0x0800, V4)).build();
  const fs3 = frames(badOpt);
  t.same(fs3.map(summary), [ok]);
  t.equal(fs3[0]!.tsMicros, 7);
});

t.test('frames are independent objects and offsets stay inside the file', async (t) => {
  const buf = pcap({ linkType: 1, records: [0, 1, 2].map((i) => ({ sec: i, frac: 0, data: ethernet(0x0800, V4) })) });
  const fs = frames(buf);
  t.equal(new Set(fs).size, 3);
  t.same(
    fs.map((f) => f.index),
    [1, 2, 3],
  );
  t.ok(fs.every((f) => f.ipOff >= 0 && f.ipOff + f.ipLen <= buf.length));
  t.equal(CAPTURE_UNSUPPORTED_LINK_TYPE > 0, true);
});
