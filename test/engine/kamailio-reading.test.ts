// Requests Kamailio reads differently from a strict RFC 3261 reading, each a
// way past a rule until sipwall read them as Kamailio does or refused them
// (a review against kamailio/kamailio src/core/parser and tcp_read.c).

import t from 'tap';
import { parseSip } from '../../src/sip/parse-sip.js';
import { SipMessage } from '../../src/sip/sip-message.js';
import { M_INVITE, M_REGISTER, PARSE_INVALID, PARSE_OK } from '../../src/sip/constants.js';
import { REASON_NAMES } from '../../src/engine/reasons.js';
import { configWith, engineFor, Judge, samples } from '../helpers/engine-fixtures.js';

const msg = new SipMessage();
const parse = (text: string, stream = false): number => {
  const b = Buffer.from(text, 'latin1');
  return parseSip(b, 0, b.length, msg, stream);
};
const head = (extra: string, method = 'OPTIONS'): string =>
  `${method} sip:100@pbx.example.com SIP/2.0\r\nVia: SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bKk1\r\nFrom: <sip:200@pbx.example.com>;tag=1\r\nTo: <sip:100@pbx.example.com>\r\nCall-ID: k1\r\nCSeq: 1 ${method}\r\n${extra}\r\n`;
const why = (d: { reason: number; ruleId: string }): string => d.ruleId || REASON_NAMES[d.reason]!;

t.test('Content-Length in the forms Kamailio\'s TCP reader frames by: refused, so no message hides in a body', async (t) => {
  // tcp_read_headers() takes '_' for '-' and reads a folded line too; the first one it finds frames the stream.
  for (const extra of ['Content_Length: 217\r\nContent-Length: 0\r\n', 'CONTENT_length : 217\r\n', 'Subject: x\r\n Content-Length: 217\r\n', 'Subject: x\r\n\tl: 217\r\nContent-Length: 0\r\n']) {
    for (const stream of [true, false]) {
      t.equal(parse(head(extra), stream), PARSE_INVALID, `${JSON.stringify(extra)} (${stream ? 'TCP' : 'UDP'})`);
      t.equal(msg.reason, 'conflicting-content-length');
    }
  }
  // What is not such a line still parses.
  for (const extra of ['Content-Length: 0\r\n', 'X-Content_Lengthy: 3\r\nContent-Length: 0\r\n', 'Subject: x\r\n length: 217\r\nContent-Length: 0\r\n', 'Content_Length2: 1\r\nContent-Length: 0\r\n']) {
    t.equal(parse(head(extra), true), PARSE_OK, JSON.stringify(extra));
  }
});

t.test('a method in lower case is that method: the INVITE and REGISTER rules judge it', async (t) => {
  t.equal(parse(head('Content-Length: 0\r\n', 'invite')), PARSE_OK);
  t.equal(msg.method, M_INVITE, 'invite is INVITE, as Kamailio\'s parse_first_line() reads it');
  t.equal(parse(head('Content-Length: 0\r\n', 'Register')), PARSE_OK);
  t.equal(msg.method, M_REGISTER);
  // Toll fraud: samples/toll-international/uk-00-lowercase-method.sip runs in test/rules/samples.test.ts.
  const j = new Judge(engineFor(configWith()));
  const reg = samples('rate-register')[0]!.data.toString('latin1').replace(/^REGISTER /, 'register ').replace(/^(CSeq: \d+) REGISTER/m, '$1 register');
  const limit = configWith().rateLimits.register.limit;
  const verdicts = Array.from({ length: limit + 1 }, (_, i) => why(j.udp('198.51.100.7', reg.replace(/^(CSeq: )(\d+)/m, (_m, h: string, n: string) => `${h}${Number(n) + i}`), 1_000_000 + i)));
  t.equal(verdicts[limit], 'register', `the lower-case REGISTER beyond ${limit} is rate-limited (got ${verdicts[limit]})`);
});

t.test('a To or From with a colon before "<" is refused, not read as an addr-spec with no user', async (t) => {
  // Kamailio's parse_addr_spec() reads "x:y" as the display name and registers sip:101@...
  t.equal(parse(head('Content-Length: 0\r\n').replace('To: <sip:100@pbx.example.com>', 'To: x:y <sip:101@pbx.example.com>')), PARSE_INVALID);
  t.equal(msg.reason, 'bad-to');
  t.equal(parse(head('Content-Length: 0\r\n').replace('From: <sip:200@pbx.example.com>;tag=1', 'From: a:b <sip:100@1.1.1.1>;tag=1')), PARSE_INVALID);
  t.equal(msg.reason, 'bad-from');
  t.equal(parse(head('Content-Length: 0\r\n').replace('To: <sip:100@pbx.example.com>', 'To: sip:101@pbx.example.com')), PARSE_OK, 'an addr-spec To still parses');
  t.equal(parse(head('Content-Length: 0\r\n').replace('To: <sip:100@pbx.example.com>', 'To: "x:y" <sip:101@pbx.example.com>')), PARSE_OK, 'a quoted display name may hold a colon');
  // Contact is a list: a '<' in the next element is no ambiguity in the first.
  t.equal(parse(head('Contact: sip:x@1.1.1.1, <sip:y@192.0.2.9>\r\nContent-Length: 0\r\n')), PARSE_OK);
  t.equal(msg.buf.toString('latin1', msg.contactHostStart, msg.contactHostEnd), '1.1.1.1', 'an addr-spec Contact before another is still read');
  const j = new Judge(engineFor(configWith()));
  t.equal(why(j.udp('198.51.100.7', samples('distinct-users')[0]!.data.toString('latin1').replace(/^To: [^<\r\n]*</m, 'To: x:y <'), 0)), 'invalid-sip', 'the engine drops it as invalid SIP');
});

t.test('an empty or quoted To tag does not make a new call pass for one in a dialog', async (t) => {
  const invite = samples('call-limit')[0]!.data.toString('latin1');
  const max = configWith().tollFraud.maxConcurrentCalls;
  for (const tag of [';tag=', ';tag= ', ';x=";tag=1"', ';TAG=']) {
    const j = new Judge(engineFor(configWith()));
    const out: string[] = [];
    for (let i = 0; i <= max; i++) {
      const m = invite.replace(/^(To: <[^>]*>)/m, `$1${tag}`).replace(/^(Call-ID:\s*)/im, `$1c${i}-`).replace(/^(CSeq:\s*)(\d+)/im, (_m, h: string, n: string) => `${h}${Number(n) + i}`);
      out.push(why(j.udp('198.51.100.7', m, 1_000_000 + i)));
    }
    t.equal(out[max], 'call-limit', `To ...${tag}: call ${max + 1} is over the limit (${out.join(',')})`);
  }
  const j = new Judge(engineFor(configWith()));
  const tagged = invite.replace(/^(To: <[^>]*>)/m, '$1;tag=abc');
  const out = Array.from({ length: max + 1 }, (_, i) => why(j.udp('198.51.100.7', tagged.replace(/^(Call-ID:\s*)/im, `$1d${i}-`), 2_000_000 + i)));
  t.notOk(out.includes('call-limit'), 'a real To tag is a request in a dialog: not a new call');
});
