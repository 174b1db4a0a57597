// Property tests for parseSip: it never throws, on random bytes or on
// damaged valid messages; its status and reason are in range; every range it
// reports lies within [start, end) (within the message for PARSE_OK); and it
// never depends on bytes outside [start, end): parsing a message embedded in
// a larger buffer of random bytes gives the same answer as an exact copy.
// Runs are bounded in count and in time.

import t from 'tap';
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { parseSip } from '../../src/sip/parse-sip.js';
import { SipMessage } from '../../src/sip/sip-message.js';
import { A_HOST_END, A_HOST_START, A_USER_END, A_USER_START, ADDR, parseUri, URI_BOUNDED } from '../../src/sip/sip-uri.js';
import {
  INVALID_REASONS, KIND_KEEPALIVE, MAX_HEADERS, PARSE_INCOMPLETE, PARSE_INVALID, PARSE_OK,
} from '../../src/sip/constants.js';
import { checkProperty } from '../packet/packet-builders.js';

const LIMITS = { numRuns: 3000, interruptAfterTimeLimit: 15000 } as const;
const fixtures = new URL('../../../test/fixtures/sip/', import.meta.url);

const samples: Buffer[] = [];
for (const sub of ['corpus/', 'rfc4475/']) {
  for (const f of readdirSync(new URL(sub, fixtures)).filter((f) => f.endsWith('.sip'))) {
    samples.push(readFileSync(new URL(sub + f, fixtures)));
  }
}
samples.push(readFileSync(new URL('invite-sdp.sip', fixtures)));

const RANGES = [
  ['methodStart', 'methodEnd'], ['ruriStart', 'ruriEnd'], ['ruriUserStart', 'ruriUserEnd'], ['ruriHostStart', 'ruriHostEnd'],
  ['userAgentStart', 'userAgentEnd'], ['fromNameStart', 'fromNameEnd'], ['fromUserStart', 'fromUserEnd'],
  ['fromHostStart', 'fromHostEnd'], ['fromStart', 'fromEnd'], ['toStart', 'toEnd'], ['toUserStart', 'toUserEnd'], ['toHostStart', 'toHostEnd'],
  ['contactUserStart', 'contactUserEnd'], ['contactHostStart', 'contactHostEnd'], ['callIdStart', 'callIdEnd'],
  ['viaBranchStart', 'viaBranchEnd'], ['authUserStart', 'authUserEnd'],
] as const;

/** Why the parse of buf[start, end) breaks an invariant, or '' if it holds. */
function problem(m: SipMessage, st: number, start: number, end: number): string {
  if (st !== PARSE_OK && st !== PARSE_INCOMPLETE && st !== PARSE_INVALID) return `status ${st}`;
  if (st === PARSE_INVALID ? !INVALID_REASONS.includes(m.reason) : m.reason !== '') return `reason '${m.reason}'`;
  if (m.start !== start) return `start ${m.start}`;
  // For OK every range lies in the message; otherwise in what was given.
  const hi = st === PARSE_OK ? m.end : end;
  if (st === PARSE_OK && !(m.end > start && m.end <= end)) return `end ${m.end}`;
  if (st === PARSE_OK && m.kind !== KIND_KEEPALIVE && !(m.bodyStart > start && m.bodyStart <= m.end)) return `bodyStart ${m.bodyStart}`;
  const inRange = (s: number, e: number): boolean => (s === -1 && e === -1) || (start <= s && s <= e && e <= hi);
  for (const [a, b] of RANGES) if (!inRange(m[a], m[b])) return `${a} ${m[a]}..${m[b]} outside [${start}, ${hi}]`;
  if (!(m.headerCount >= 0 && m.headerCount <= MAX_HEADERS)) return `headerCount ${m.headerCount}`;
  for (let i = 0; i < m.headerCount; i++) {
    if (!inRange(m.headers[i * 3 + 1]!, m.headers[i * 3 + 2]!)) return `header ${i}`;
    if (!inRange(m.headerNames[i * 2]!, m.headerNames[i * 2 + 1]!)) return `header name ${i}`;
  }
  if (!(m.cseq >= -1 && m.cseq <= 0x7fffffff)) return `cseq ${m.cseq}`;
  if (m.status !== 0 && !(m.status >= 100 && m.status <= 699)) return `status code ${m.status}`;
  return '';
}

/** Every field, offsets relative to `base`, for comparing two parses. */
function snapshot(m: SipMessage, st: number, base: number): string {
  const o: unknown[] = [st, m.reason, m.kind, m.method, m.status, m.cseq, m.cseqMethod, m.contentLength, m.hasCredentials, m.headerCount];
  const rel = (x: number): number => (x < 0 ? x : x - base);
  o.push(rel(m.end), rel(m.bodyStart));
  for (const [a, b] of RANGES) o.push(rel(m[a]), rel(m[b]));
  for (let i = 0; i < m.headerCount; i++) {
    o.push(m.headers[i * 3], rel(m.headers[i * 3 + 1]!), rel(m.headers[i * 3 + 2]!), rel(m.headerNames[i * 2]!), rel(m.headerNames[i * 2 + 1]!));
  }
  return JSON.stringify(o);
}

const msg = new SipMessage();

function check(buf: Buffer, start: number, end: number, stream: boolean): void {
  let st: number;
  try {
    st = parseSip(buf, start, end, msg, stream);
  } catch (e) {
    throw new Error(`threw on ${JSON.stringify(buf.subarray(start, end).toString('latin1'))}: ${String(e)}`);
  }
  const p = problem(msg, st, start, end);
  if (p !== '') throw new Error(`${p} for ${JSON.stringify(buf.subarray(start, end).toString('latin1'))}`);
}

// SIP-shaped noise: fragments that steer the parser into its deeper paths.
const fragment = fc.constantFrom(
  'INVITE ', 'REGISTER ', 'SIP/2.0', ' 200 OK', 'sip:', 'sips:', 'tel:', '@', ':', ';', ',', '"', '\\', '<', '>', '[', ']',
  '\r\n', '\n', '\r', ' ', '\t', '\r\n ', 'Via: ', 'v:', 'From:', 'f: ', 'To: ', 'Contact: ', 'm:', 'CSeq: ', '1 INVITE',
  'Call-ID: ', 'Content-Length: ', 'l: ', '0', '12', '99999999', 'User-Agent: ', 'Authorization: Digest username=',
  'branch=', 'z9hG4bK', 'alice', 'example.com', '[2001:db8::1]', '\r\n\r\n', '\x00', '\xff',
);
const sipish = fc.array(fragment, { maxLength: 60 }).map((a) => Buffer.from(a.join(''), 'latin1'));

t.test('never throws on random bytes; invariants hold', async (t) => {
  checkProperty(t, 'no counterexample',
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, stream) => {
      check(Buffer.from(bytes), 0, bytes.length, stream);
    }),
    LIMITS,
  );
  checkProperty(t, 'no counterexample',
    fc.property(sipish, fc.boolean(), (buf, stream) => {
      check(buf, 0, buf.length, stream);
      check(Buffer.concat([Buffer.from('OPTIONS sip:a@b SIP/2.0\r\n'), buf]), 0, buf.length + 25, stream);
    }),
    LIMITS,
  );
});

t.test('never throws on damaged valid messages; invariants hold', async (t) => {
  const damage = fc.record({
    sample: fc.nat({ max: samples.length - 1 }),
    edits: fc.array(
      fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'insert', 'delete', 'dup'), byte: fc.integer({ min: 0, max: 255 }) }),
      { minLength: 1, maxLength: 8 },
    ),
    cut: fc.option(fc.nat()),
  });
  checkProperty(t, 'no counterexample',
    fc.property(damage, fc.boolean(), ({ sample, edits, cut }, stream) => {
      const b = [...samples[sample]!];
      for (const e of edits) {
        const at = b.length === 0 ? 0 : e.at % b.length;
        if (e.kind === 'flip') b[at] = e.byte;
        else if (e.kind === 'insert') b.splice(at, 0, e.byte);
        else if (e.kind === 'delete') b.splice(at, 1);
        else b.splice(at, 0, ...b.slice(at, at + 40));
      }
      const buf = Buffer.from(cut === null ? b : b.slice(0, cut % (b.length + 1)));
      check(buf, 0, buf.length, stream);
    }),
    LIMITS,
  );
});

t.test('a message inside a larger buffer parses as an exact copy would', async (t) => {
  const input = fc.record({
    body: fc.oneof(
      fc.nat({ max: samples.length - 1 }).map((i) => samples[i]!),
      sipish,
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    ),
    cut: fc.option(fc.nat()),
    before: fc.uint8Array({ maxLength: 64 }),
    after: fc.oneof(fc.uint8Array({ maxLength: 256 }), sipish, fc.constant(Buffer.from('\r\n\r\nINVITE sip:x SIP/2.0\r\n'))),
    stream: fc.boolean(),
  });
  checkProperty(t, 'no counterexample',
    fc.property(input, ({ body, cut, before, after, stream }) => {
      const exact = Buffer.from(cut === null ? body : body.subarray(0, cut % (body.length + 1)));
      const big = Buffer.concat([Buffer.from(before), exact, Buffer.from(after)]);
      const a = snapshot(msg, parseSip(exact, 0, exact.length, msg, stream), 0);
      const st = parseSip(big, before.length, before.length + exact.length, msg, stream);
      const p = problem(msg, st, before.length, before.length + exact.length);
      if (p !== '') throw new Error(p);
      const b = snapshot(msg, st, before.length);
      if (a !== b) throw new Error(`embedded ${b}\n   exact ${a}`);
    }),
    LIMITS,
  );
});

t.test("the Request-URI's user and host are what parseUri finds reading the URI alone", async (t) => {
  // parseSip notes the '@' and the host's end while it validates the
  // Request-URI and hands them to parseUri; this checks the hand-over
  // against parseUri's own scan, on URIs full of the bytes that matter.
  const unit = fc.constantFrom(...'ab09.-_@:;[]+%?=&,/!~*'.split(''));
  const scheme = fc.constantFrom('sip:', 'SIPS:', 'tel:', 'x-foo:', 'sip:', 'sip:');
  checkProperty(t, 'no counterexample',
    fc.property(scheme, fc.string({ unit, minLength: 0, maxLength: 30 }), (sch, rest) => {
      const uriText = sch + rest;
      const buf = Buffer.from(`OPTIONS ${uriText} SIP/2.0\r\nCall-ID: x\r\n\r\n`, 'latin1');
      const msg = new SipMessage();
      if (parseSip(buf, 0, buf.length, msg, false) !== PARSE_OK) return true; // e.g. nothing after the scheme
      parseUri(buf, 8, 8 + uriText.length, URI_BOUNDED);
      return (
        msg.ruriUserStart === ADDR[A_USER_START] && msg.ruriUserEnd === ADDR[A_USER_END] &&
        msg.ruriHostStart === ADDR[A_HOST_START] && msg.ruriHostEnd === ADDR[A_HOST_END]
      );
    }),
    LIMITS,
  );
});
