// Property tests for readCapture: whatever is inside a capture file (bit
// flips, cuts, corrupted record and block lengths, random bytes after a valid
// header), it never throws, every frame's offsets stay inside the file, frame
// numbers count up from 1, and a frame that stops the capture is the last.

import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CAPTURE_BAD_RECORD_LENGTH,
  CAPTURE_BAD_SECTION_HEADER,
  CAPTURE_REASONS,
  CAPTURE_TRUNCATED_RECORD,
  isCapture,
  readCapture,
} from '../../src/packet/capture-reader.js';
import { decodeIp } from '../../src/packet/decode-ip.js';
import { DECODE_REASONS, PacketView } from '../../src/packet/packet-view.js';
import { InputError } from '../../src/errors.js';
import { checkProperty, ethernet, ipv4, ipv6, pcap, PcapngSection, sll1, sll2, udp } from './packet-builders.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const LIMITS = { numRuns: 400, interruptAfterTimeLimit: 30000 } as const;
const STOPPING = new Set([CAPTURE_TRUNCATED_RECORD, CAPTURE_BAD_RECORD_LENGTH, CAPTURE_BAD_SECTION_HEADER]);

const V4 = ipv4({ payload: udp({ data: 'OPTIONS sip:a SIP/2.0\r\n\r\n' }) });
const V6 = ipv6({ exts: [{ type: 0 }], payload: udp({ data: 'OPTIONS sip:b SIP/2.0\r\n\r\n' }) });

const SEEDS: Buffer[] = [
  readFileSync(`${FIXTURES}corpus/svmap.pcap`),
  readFileSync(`${FIXTURES}corpus/legit-sipp.pcap`),
  readFileSync(`${FIXTURES}packet/svmap.pcapng`),
  readFileSync(`${FIXTURES}packet/mixed-links.pcapng`),
  readFileSync(`${FIXTURES}packet/lo-cooked-v2.pcap`),
  pcap({ le: false, nano: true, linkType: 113, records: [{ sec: 1, frac: 2, data: sll1(0x0800, V4) }, { sec: 3, frac: 4, data: sll1(0x86dd, V6) }] }),
  Buffer.concat([
    new PcapngSection(false).idb(276, { tsresol: 9 }).idb(101).epb(0, 123n, sll2(0x86dd, V6)).spb(sll2(0x0800, V4)).epb(1, 5n, V4).build(),
    new PcapngSection(true).idb(1, { tsresol: 0x85, tsoffsetSec: 7 }).opb(0, 9n, ethernet(0x0800, V4, [0x8100])).block(5, Buffer.alloc(16)).build(),
  ]),
];

/** Offsets of the length fields in a well-formed capture, found by walking it. */
function lengthFields(buf: Buffer): number[] {
  const out: number[] = [];
  const magic = buf.readUInt32LE(0);
  if (magic !== 0x0a0d0d0a) {
    const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
    for (let p = 24; p + 16 <= buf.length; ) {
      out.push(p + 8, p + 12); // incl_len, orig_len
      p += 16 + (le ? buf.readUInt32LE(p + 8) : buf.readUInt32BE(p + 8));
    }
    return out;
  }
  let le = true;
  for (let p = 0; p + 12 <= buf.length; ) {
    if (buf.readUInt32LE(p) === 0x0a0d0d0a) le = buf.readUInt32LE(p + 8) === 0x1a2b3c4d;
    const len = le ? buf.readUInt32LE(p + 4) : buf.readUInt32BE(p + 4);
    const type = le ? buf.readUInt32LE(p) : buf.readUInt32BE(p);
    out.push(p + 4, p + len - 4);
    if (type === 6 || type === 2) out.push(p + 20); // captured length
    if (type === 3) out.push(p + 8); // original length
    p += len;
  }
  return out;
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'cut'; at: number }
  | { kind: 'length'; which: number; value: number; le: boolean }
  | { kind: 'splice'; at: number; junk: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('length' as const),
      which: fc.nat(),
      value: fc.oneof(fc.nat(), fc.constantFrom(0, 1, 4, 11, 12, 13, 16, 28, 0x7fffffff, 0xffffffff, 262145)),
      le: fc.boolean(),
    }),
  },
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), junk: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
);

function mutate(seed: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(seed);
  const fields = lengthFields(seed);
  for (const m of ms) {
    if (m.kind === 'flip') b[m.at % b.length] = b[m.at % b.length]! ^ (1 << m.bit);
    else if (m.kind === 'cut') b = b.subarray(0, m.at % (b.length + 1));
    else if (m.kind === 'splice') {
      const at = m.at % (b.length + 1);
      b = Buffer.concat([b.subarray(0, at), m.junk, b.subarray(at)]);
    } else if (fields.length > 0) {
      const at = fields[m.which % fields.length]!;
      // Write in either order: one of them is the file's.
      if (at + 4 <= b.length) {
        if (m.le) b.writeUInt32LE(m.value >>> 0, at);
        else b.writeUInt32BE(m.value >>> 0, at);
      }
    }
    if (b.length === 0) break;
  }
  return b;
}

const damaged = fc
  .tuple(fc.nat(SEEDS.length - 1), fc.array(mutation, { minLength: 1, maxLength: 5 }))
  .map(([i, ms]) => mutate(SEEDS[i]!, ms));

// A valid file header followed by random bytes.
const headerThenNoise = fc
  .tuple(fc.constantFrom(...SEEDS.map((s) => s.subarray(0, s.readUInt32LE(0) === 0x0a0d0d0a ? s.readUInt32LE(4) : 24))), fc.uint8Array({ maxLength: 400 }))
  .map(([h, noise]) => Buffer.concat([h, noise]));

/** '' when every frame of `buf` is well formed, else what is wrong. */
function checkCapture(buf: Buffer): string {
  let it: Generator<import('../../src/packet/capture-reader.js').CaptureFrame>;
  try {
    it = readCapture('fuzz.pcap', buf);
  } catch (e) {
    // Only a header that is not a capture may throw, and only as InputError.
    return e instanceof InputError && !isCapture(buf) ? '' : `threw ${String(e)}`;
  }
  if (!isCapture(buf)) return 'accepted a buffer isCapture() rejects';
  const view = new PacketView();
  let n = 0;
  let stopped = false;
  for (const f of it) {
    n++;
    if (stopped) return `frame after a stopping status`;
    if (f.index !== n) return `frame ${n} has index ${f.index}`;
    if (f.data !== buf) return 'data is not the file buffer';
    if (!(f.ipOff >= 0 && f.ipLen >= 0 && f.ipOff + f.ipLen <= buf.length)) return `frame ${n} ip ${f.ipOff}+${f.ipLen} of ${buf.length}`;
    if (f.reason !== CAPTURE_REASONS[f.status]) return `frame ${n} status ${f.status} reason ${f.reason}`;
    if (!Number.isFinite(f.tsMicros)) return `frame ${n} ts ${f.tsMicros}`;
    if (STOPPING.has(f.status)) stopped = true;
    if (f.status === 0) {
      const st = decodeIp(f.data, f.ipOff, f.ipLen, view);
      if (DECODE_REASONS[st] === undefined) return `decode status ${st}`;
    }
    // Every frame consumes at least 12 bytes of file, so this bounds the loop.
    if (n > buf.length / 12 + 1) return 'too many frames';
  }
  return '';
}

t.test('the seeds themselves read cleanly', async (t) => {
  for (const s of SEEDS) {
    t.equal(checkCapture(s), '');
    t.ok([...readCapture('seed', s)].every((f) => f.status === 0), 'all frames ok');
  }
});

t.test('readCapture never throws inside a file and keeps offsets inside it', async (t) => {
  const check = (buf: Buffer) => {
    const problem = checkCapture(buf);
    if (problem !== '') throw new Error(problem);
    return true;
  };
  checkProperty(t, 'mutated captures (bit flips, cuts, lying lengths, spliced junk)', fc.property(damaged, check), LIMITS);
  checkProperty(t, 'valid header then random bytes', fc.property(headerThenNoise, check), LIMITS);
  checkProperty(t, 'random bytes', fc.property(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), check), LIMITS);
});
