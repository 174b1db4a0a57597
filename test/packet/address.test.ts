import t from 'tap';
import fc from 'fast-check';
import { isIP } from 'node:net';
import { CidrSet, formatIp, ipv4ToInt, parseCidr, parseIp, type CidrEntry } from '../../src/packet/address.js';
import { checkProperty } from './packet-builders.js';

const FC = { numRuns: 2000, interruptAfterTimeLimit: 15000 } as const;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function fmt(text: string): string {
  const p = parseIp(text);
  if (p === null) throw new Error(`${text} did not parse`);
  return formatIp(p.bytes, 0, p.family);
}

t.test('formatIp: IPv4 and RFC 5952 canonical IPv6', async (t) => {
  t.equal(formatIp(Uint8Array.from([192, 0, 2, 1]), 0, 4), '192.0.2.1');
  t.equal(formatIp(Uint8Array.from([9, 9, 0, 0, 0, 255]), 2, 4), '0.0.0.255', 'reads at the offset');
  const cases: Array<[string, string]> = [
    // RFC 5952 section 4.1: leading zeros suppressed.
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    // 4.2.1: "::" used to its maximum.
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    // 4.2.2: not for a single 16-bit 0 field.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // 4.2.3: the longest run; the first on a tie.
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // 4.3: lower case.
    ['2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:0001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['0:0:1:0:0:0:1:0', '0:0:1::1:0'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
    // Section 5: IPv4-mapped addresses end in dotted decimal.
    ['0:0:0:0:0:ffff:c000:0201', '::ffff:192.0.2.1'],
    ['::FFFF:10.0.0.1', '::ffff:10.0.0.1'],
    // Other embedded-IPv4 forms are written in hex.
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ];
  for (const [input, want] of cases) t.equal(fmt(input), want, input);
});

t.test('parseIp accepts', async (t) => {
  const good: Array<[string, 4 | 6, string]> = [
    ['0.0.0.0', 4, '00000000'],
    ['255.255.255.255', 4, 'ffffffff'],
    ['10.99.0.2', 4, '0a630002'],
    ['::', 6, '0'.repeat(32)],
    ['::1', 6, '0'.repeat(31) + '1'],
    ['1::', 6, '0001' + '0'.repeat(28)],
    ['1:2:3:4:5:6:7:8', 6, '00010002000300040005000600070008'],
    ['1:2:3:4:5:6:7::', 6, '00010002000300040005000600070000'],
    ['::2:3:4:5:6:7:8', 6, '00000002000300040005000600070008'],
    ['1:2:3:4:5:6:1.2.3.4', 6, '00010002000300040005000601020304'],
    ['::ffff:192.0.2.1', 6, '00000000000000000000ffffc0000201'],
    ['0001:0DB8::', 6, '00010db8' + '0'.repeat(24)],
  ];
  for (const [text, family, bytes] of good) {
    const p = parseIp(text);
    t.ok(p, text);
    t.equal(p?.family, family, `${text} family`);
    t.equal(p && hex(p.bytes), bytes, `${text} bytes`);
  }
});

t.test('parseIp rejects', async (t) => {
  const bad = [
    '', ' ', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '00.1.2.3', '256.1.1.1', '1.2.3.4 ', ' 1.2.3.4',
    '1.2.3.-4', '1..2.3', '0x1.2.3.4', '1.2.3.4/32', '1.2.3.1000', '1.2.3.4.',
    'fe80::1%eth0', 'fe80::1%1', '[::1]', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1::2::3', ':1::', '::1:',
    '1:', ':1', '12345::', 'g::', '1:2:3:4:5:6:7:1.2.3.4', '1::2:3:4:5:6:7:8', '::1.2.3', '::1.2.3.04',
    '1.2.3.4::', '::ffff:1.2.3.4.5', '::ffff:1.2.3.4:1', '::1.2.3.4/8', ':', '1:2:3:4:5:6:7:8:',
  ];
  for (const text of bad) t.equal(parseIp(text), null, JSON.stringify(text));
  t.equal(parseIp(undefined as unknown as string), null, 'non-string');
});

t.test('parse/format round trips on random addresses', async (t) => {
  checkProperty(
    t,
    'IPv4 round trip',
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
      const text = formatIp(b, 0, 4);
      const p = parseIp(text);
      return p !== null && p.family === 4 && hex(p.bytes) === hex(b);
    }),
    FC,
  );
  // Zero-heavy groups so "::" placement and ties get exercised.
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  checkProperty(
    t,
    'IPv6 round trip and WHATWG agreement',
    fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
      const b = new Uint8Array(16);
      groups.forEach((g, i) => {
        b[2 * i] = g >> 8;
        b[2 * i + 1] = g & 0xff;
      });
      const text = formatIp(b, 0, 6);
      const p = parseIp(text);
      if (p === null || p.family !== 6 || hex(p.bytes) !== hex(b)) return false;
      // The WHATWG URL serializer compresses IPv6 the same way (first longest
      // run of 2+ zero groups, lower-case hex); it only differs on IPv4-mapped.
      const whatwg = new URL(`http://[${text}]/`).hostname.slice(1, -1);
      return text.startsWith('::ffff:') && text.includes('.') ? true : whatwg === text;
    }),
    FC,
  );
});

t.test('parseIp agrees with node:net on mutated addresses', async (t) => {
  const seed = fc.oneof(
    fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIp(b, 0, 4)),
    fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIp(b, 0, 6)),
    fc.constantFrom('::ffff:10.0.0.1', '1:2:3:4:5:6:7:8', '::', '1:2:3:4:5:6:1.2.3.4', '0.0.0.0'),
  );
  const edit = fc.record({
    kind: fc.constantFrom('insert', 'delete', 'replace'),
    at: fc.nat(),
    ch: fc.constantFrom(...'0123456789abcdefABCDEFg:.'.split('')),
  });
  checkProperty(
    t,
    'validity matches node:net isIP',
    fc.property(seed, fc.array(edit, { maxLength: 3 }), (s, edits) => {
      let text = s;
      for (const e of edits) {
        const at = text.length === 0 ? 0 : e.at % (text.length + 1);
        if (e.kind === 'insert') text = text.slice(0, at) + e.ch + text.slice(at);
        else if (e.kind === 'delete') text = text.slice(0, at) + text.slice(at + 1);
        else text = text.slice(0, at) + e.ch + text.slice(at + 1);
      }
      const ours = parseIp(text);
      const theirs = isIP(text);
      if ((ours === null) !== (theirs === 0)) return false;
      return ours === null || ours.family === theirs;
    }),
    FC,
  );
});

t.test('parseCidr', async (t) => {
  const ok: Array<[string, string, number, boolean]> = [
    ['10.0.0.0/8', '10.0.0.0', 8, false],
    ['10.1.2.3/8', '10.0.0.0', 8, true],
    ['10.1.2.3', '10.1.2.3', 32, false],
    ['192.0.2.255/25', '192.0.2.128', 25, true],
    ['0.0.0.0/0', '0.0.0.0', 0, false],
    ['1.2.3.4/0', '0.0.0.0', 0, true],
    ['2001:db8::/32', '2001:db8::', 32, false],
    ['2001:db8::1/32', '2001:db8::', 32, true],
    ['2001:db8:ffff::/33', '2001:db8:8000::', 33, true],
    ['::1', '::1', 128, false],
    ['::/0', '::', 0, false],
    ['::ffff:10.0.0.0/104', '::ffff:10.0.0.0', 104, false],
  ];
  for (const [text, addr, prefix, hostBitsSet] of ok) {
    const c = parseCidr(text);
    t.ok(c, text);
    if (c === null) continue;
    t.equal(formatIp(c.bytes, 0, c.family), addr, `${text} address`);
    t.equal(c.prefix, prefix, `${text} prefix`);
    t.equal(c.hostBitsSet, hostBitsSet, `${text} hostBitsSet`);
  }
  for (const bad of ['1.2.3.4/33', '/8', '1.2.3.4/', '1.2.3.4/08', '1.2.3.4/-1', '1.2.3.4/+8', '1.2.3.4/8/8', '::1/129', '1.2.3.4/ 8', '1.2.3/8', 'fe80::1%eth0/64', '1.2.3.4/1e1', '']) {
    t.equal(parseCidr(bad), null, JSON.stringify(bad));
  }
});

t.test('ipv4ToInt is unsigned', async (t) => {
  t.equal(ipv4ToInt(Uint8Array.from([255, 255, 255, 255]), 0), 4294967295);
  t.equal(ipv4ToInt(Uint8Array.from([128, 0, 0, 0]), 0), 2147483648);
  t.equal(ipv4ToInt(Uint8Array.from([7, 10, 0, 0, 1]), 1), 167772161);
});

/** Brute-force membership: compare the first `prefix` bits. */
function inCidr(c: CidrEntry, b: Uint8Array, off: number): boolean {
  for (let bit = 0; bit < c.prefix; bit++) {
    const byte = bit >> 3;
    const m = 0x80 >> (bit & 7);
    if ((c.bytes[byte]! & m) !== (b[off + byte]! & m)) return false;
  }
  return true;
}

t.test('CidrSet basics', async (t) => {
  const set = new CidrSet();
  t.equal(set.size, 0);
  t.equal(set.has(Uint8Array.from([10, 0, 0, 1]), 0, 4), false);
  set.add(parseCidr('10.0.0.0/8')!);
  set.add(parseCidr('10.9.9.9/8')!); // same prefix once masked
  set.add(parseCidr('192.0.2.7')!);
  set.add(parseCidr('2001:db8::/32')!);
  t.equal(set.size, 3);
  const v4 = (s: string) => parseIp(s)!.bytes;
  t.equal(set.has(v4('10.200.1.1'), 0, 4), true);
  t.equal(set.has(v4('11.0.0.0'), 0, 4), false);
  t.equal(set.has(v4('192.0.2.7'), 0, 4), true);
  t.equal(set.has(v4('192.0.2.8'), 0, 4), false);
  t.equal(set.has(v4('2001:db8:1::5'), 0, 6), true);
  t.equal(set.has(v4('2001:db9::'), 0, 6), false);
  // Families are separate: ::a00:1 is not 10.0.0.1.
  t.equal(set.has(v4('::a00:1'), 0, 6), false);
  // Reads at the offset, as on a packet buffer.
  const pkt = Buffer.concat([Buffer.alloc(12, 0xff), Buffer.from(v4('10.1.1.1'))]);
  t.equal(set.has(pkt, 12, 4), true);
  const all = new CidrSet();
  all.add(parseCidr('::/0')!);
  t.equal(all.has(v4('ffff::1'), 0, 6), true);
  t.equal(all.has(v4('1.1.1.1'), 0, 4), false);
  t.throws(() => all.add({ family: 4, bytes: v4('1.2.3.4'), prefix: 33 }), RangeError);
  t.throws(() => all.add({ family: 6, bytes: v4('1.2.3.4'), prefix: 64 }), RangeError);
  all.clear();
  t.equal(all.size, 0);
  t.equal(all.has(v4('ffff::1'), 0, 6), false);
});

t.test('CidrSet agrees with brute force on random sets and addresses', async (t) => {
  for (const family of [4, 6] as const) {
    const width = family === 4 ? 4 : 16;
    const bytes = fc.uint8Array({ minLength: width, maxLength: width });
    // Entries are drawn around a few bases so they overlap and addresses hit them.
    const scenario = fc.record({
      bases: fc.array(bytes, { minLength: 1, maxLength: 4 }),
      entries: fc.array(fc.record({ base: fc.nat(), prefix: fc.integer({ min: 0, max: width * 8 }), noise: bytes }), {
        maxLength: 300,
      }),
      probes: fc.array(fc.record({ base: fc.nat(), keepBits: fc.integer({ min: 0, max: width * 8 }), noise: bytes }), {
        minLength: 1,
        maxLength: 50,
      }),
    });
    // Mix the first `keep` bits of base with the rest of noise.
    const blend = (base: Uint8Array, noise: Uint8Array, keep: number) =>
      base.map((b, i) => {
        const k = Math.max(0, Math.min(8, keep - i * 8));
        const m = k === 0 ? 0 : (0xff << (8 - k)) & 0xff;
        return (b & m) | (noise[i]! & ~m & 0xff);
      });
    checkProperty(
      t,
      'membership matches brute force',
      fc.property(scenario, ({ bases, entries, probes }) => {
        const set = new CidrSet();
        const list: CidrEntry[] = [];
        const seen = new Set<string>();
        for (const e of entries) {
          const raw = blend(bases[e.base % bases.length]!, e.noise, e.prefix + 3);
          const masked = blend(raw, new Uint8Array(width), e.prefix);
          const c: CidrEntry = { family, bytes: raw, prefix: e.prefix };
          set.add(c);
          list.push(c);
          seen.add(`${hex(masked)}/${e.prefix}`);
        }
        if (set.size !== seen.size) return false;
        for (const p of probes) {
          const addr = blend(bases[p.base % bases.length]!, p.noise, p.keepBits);
          const want = list.some((c) => inCidr(c, addr, 0));
          if (set.has(addr, 0, family) !== want) return false;
        }
        return true;
      }),
      { numRuns: 300, interruptAfterTimeLimit: 15000 },
    );
  }
});
