// Messages cut anywhere and messages back to back, as a TCP stream delivers
// them: every prefix of a valid message is INCOMPLETE, or OK with the end
// and fields of the whole message, never INVALID; several messages and
// keep-alives in one buffer come out one by one with `start = msg.end`.

import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { parseSip } from '../../src/sip/parse-sip.js';
import { rangeText, SipMessage } from '../../src/sip/sip-message.js';
import {
  KIND_KEEPALIVE, KIND_REQUEST, KIND_RESPONSE, M_REGISTER, PARSE_INCOMPLETE, PARSE_OK,
} from '../../src/sip/constants.js';

const fixtures = new URL('../../../test/fixtures/sip/', import.meta.url);
const msg = new SipMessage();

/** Every field of msg, offsets relative to `base` (-1 stays -1), as a string to compare. */
function snapshot(m: SipMessage, base: number): string {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === 'buf') continue;
    if (k === 'headers' || k === 'headerNames') continue;
    o[k] = typeof v === 'number' && (k.endsWith('Start') || k.endsWith('End') || k === 'start' || k === 'end' || k === 'bodyStart') && v >= 0 ? v - base : v;
  }
  const hs: number[] = [];
  for (let i = 0; i < m.headerCount; i++) {
    hs.push(m.headers[i * 3]!, m.headers[i * 3 + 1]! - base, m.headers[i * 3 + 2]! - base);
    hs.push(m.headerNames[i * 2]! - base, m.headerNames[i * 2 + 1]! - base);
  }
  o['headers'] = hs;
  return JSON.stringify(o);
}

const valid: Array<[string, Buffer]> = [];
for (const f of readdirSync(new URL('corpus/', fixtures)).filter((f) => f.endsWith('.sip'))) {
  valid.push([`corpus/${f}`, readFileSync(new URL(`corpus/${f}`, fixtures))]);
}
// wsinv is valid SIP that the filter refuses (its folded CSeq: rfc4475.test.ts).
for (const f of ['intmeth', 'esc01', 'escnull', 'esc02', 'lwsdisp', 'longreq', 'semiuri', 'transports', 'mpart01', 'unreason', 'noreason', 'inv2543']) {
  valid.push([`rfc4475/${f}.sip`, readFileSync(new URL(`rfc4475/${f}.sip`, fixtures))]);
}
valid.push(['invite-sdp.sip', readFileSync(new URL('invite-sdp.sip', fixtures))]);

t.test('every prefix: INCOMPLETE, or OK with the whole message (stream)', async (t) => {
  let checked = 0;
  // inv2543 has no Content-Length, which a stream refuses (parse-sip.test.ts).
  for (const [name, whole] of valid.filter(([n]) => !n.includes('inv2543'))) {
    t.equal(parseSip(whole, 0, whole.length, msg, true), PARSE_OK, name);
    const ref = snapshot(msg, 0);
    const refEnd = msg.end;
    const bad: string[] = [];
    for (let n = 0; n <= whole.length; n++) {
      // A fresh copy of exactly n bytes: nothing past the cut exists.
      const cut = Buffer.from(whole.subarray(0, n));
      const st = parseSip(cut, 0, n, msg, true);
      if (n < refEnd) {
        if (st !== PARSE_INCOMPLETE) bad.push(`${n}: ${st} ${msg.reason}`);
      } else if (st !== PARSE_OK || snapshot(msg, 0) !== ref) {
        bad.push(`${n}: ${st} ${msg.reason} end ${msg.end}`);
      }
      checked++;
    }
    t.same(bad, [], name);
  }
  t.ok(checked > 10000);
});

t.test('every prefix of a datagram with Content-Length: INCOMPLETE or the whole message', async (t) => {
  for (const [name, whole] of valid) {
    t.equal(parseSip(whole, 0, whole.length, msg, false), PARSE_OK, name);
    if (msg.contentLength < 0) continue; // its body runs to the datagram's end: any cut is "the message"
    const ref = snapshot(msg, 0);
    const bad: string[] = [];
    for (let n = 0; n < whole.length; n++) {
      const st = parseSip(whole, 0, n, msg, false);
      if (n < whole.length && st !== PARSE_INCOMPLETE) bad.push(`${n}: ${st}`);
    }
    t.equal(parseSip(whole, 0, whole.length, msg, false), PARSE_OK);
    t.equal(snapshot(msg, 0), ref);
    t.same(bad, [], name);
  }
});

t.test('a message split across two segments, as tcp-flows reassembles it', async (t) => {
  const whole = readFileSync(new URL('invite-sdp.sip', fixtures));
  for (const cut of [1, 10, 200, whole.indexOf('\r\n\r\n') + 2, whole.indexOf('\r\n\r\n') + 4, whole.length - 1]) {
    t.equal(parseSip(whole.subarray(0, cut), 0, cut, msg, true), PARSE_INCOMPLETE, `cut at ${cut}`);
    if (cut > whole.indexOf('\r\n\r\n') + 3) {
      t.ok(msg.bodyStart > 0, 'headers whole: bodyStart set');
      t.equal(msg.end, whole.length, 'end known before the body arrives');
      t.equal(rangeText(msg, msg.userAgentStart, msg.userAgentEnd), 'baresip v1.0.0 (x86_64/linux)');
    } else {
      t.equal(msg.bodyStart, -1);
    }
    t.equal(parseSip(whole, 0, whole.length, msg, true), PARSE_OK);
  }
});

t.test('two REGISTERs and a keep-alive in one buffer', async (t) => {
  const reg1 = readFileSync(new URL('corpus/legit-baresip-01.sip', fixtures));
  const reg2 = readFileSync(new URL('corpus/legit-baresip-03.sip', fixtures));
  const ok200 = readFileSync(new URL('corpus/legit-baresip-04.sip', fixtures));
  const ka = Buffer.from('\r\n\r\n');
  const pong = Buffer.from('\r\n');
  const buf = Buffer.concat([reg1, ka, reg2, pong, ok200]);
  for (const stream of [true, false]) {
    const got: Array<[number, number, number]> = [];
    let p = 0;
    while (p < buf.length) {
      const st = parseSip(buf, p, buf.length, msg, stream);
      if (st !== PARSE_OK) {
        got.push([st, p, -1]);
        break;
      }
      got.push([msg.kind, msg.start, msg.end]);
      if (msg.kind === KIND_REQUEST) t.equal(msg.method, M_REGISTER);
      p = msg.end;
    }
    let o = 0;
    const want: Array<[number, number, number]> = [];
    for (const [kind, b] of [[KIND_REQUEST, reg1], [KIND_KEEPALIVE, ka], [KIND_REQUEST, reg2], [KIND_KEEPALIVE, pong], [KIND_RESPONSE, ok200]] as const) {
      want.push([kind, o, o + b.length]);
      o += b.length;
    }
    t.same(got, want, stream ? 'stream' : 'datagram');
  }
  // The second REGISTER carries credentials, the first does not: nothing leaks from one parse to the next.
  t.equal(parseSip(buf, reg1.length + 4, buf.length, msg, true), PARSE_OK);
  t.equal(msg.hasCredentials, true);
  t.equal(parseSip(buf, 0, buf.length, msg, true), PARSE_OK);
  t.equal(msg.hasCredentials, false);
  t.equal(msg.authUserStart, -1);
});
