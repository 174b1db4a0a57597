// RFC 4475 torture-test messages (test/fixtures/sip/rfc4475/*.sip, CRLF,
// non-printable bytes as the RFC's <hex> notation gives them) through
// parseSip. For each: what the RFC asks of a parser, and what we do.
//
// Where the RFC says a parser should accept and the application reject, we
// accept (the PBX behind us answers with the 4xx): badinv01, escruri,
// regbadct, baddn, badaspec, bext01, insuf, unksm2, inv2543. Where the
// message cannot be framed or read as the RFC's grammar says (clerr, ncl,
// scalar02, quotbal, ltgtruri, lwsruri, lwsstart, trws, badvers,
// mismatch01/02, bigcode, mcl01) we report it, and the reason.
//
// Where a valid message holds a form a PBX reads differently from the
// grammar, the filter (strict parsing) refuses it and the lenient parse
// (strict false: what the PBX itself sends) still reads it as the RFC says:
// wsinv's folded CSeq, which Asterisk's chan_sip without pedantic checking
// cuts at the fold and answers as "CSeq: 9" (see parse-sip.ts).

import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseSip } from '../../src/sip/parse-sip.js';
import { rangeText, SipMessage } from '../../src/sip/sip-message.js';
import {
  KIND_REQUEST, KIND_RESPONSE, METHOD_NAMES, PARSE_INCOMPLETE, PARSE_INVALID, PARSE_OK,
} from '../../src/sip/constants.js';

const dir = new URL('../../../test/fixtures/sip/rfc4475/', import.meta.url);
const msg = new SipMessage();

interface Expect {
  /** RFC 4475 section. */
  section: string;
  status: number;
  reason?: string;
  /** method name or status code */
  what?: string | number;
  ruriUser?: string;
  ruriHost?: string;
  fromName?: string;
  fromUser?: string;
  fromHost?: string;
  toUser?: string;
  toHost?: string;
  contactUser?: string;
  contactHost?: string;
  callId?: string;
  cseq?: number;
  branch?: string;
  headerCount?: number;
  contentLength?: number;
  /** msg.end; default the file's length for PARSE_OK */
  end?: number;
  /** The filter's strict parse refuses it with this reason; the fields above are the lenient parse's. */
  strictReason?: string;
}

const CASES: Record<string, Expect> = {
  // ---- 3.1.1 valid messages: a parser must accept them ----
  wsinv: {
    section: '3.1.1.1', status: PARSE_OK, what: 'INVITE', ruriUser: 'vivekg', ruriHost: 'chair-dnrc.example.com',
    fromName: 'J Rosenberg \\\\\\"', fromUser: 'jdrosen', fromHost: 'example.com', toUser: 'vivekg',
    toHost: 'chair-dnrc.example.com', contactUser: 'jdrosen', contactHost: 'example.com', callId: 'wsinv.ndaksdj@192.0.2.1',
    cseq: 9, branch: '390skdjuw', headerCount: 14, contentLength: 150, strictReason: 'bad-cseq',
  },
  intmeth: {
    section: '3.1.1.2', status: PARSE_OK, what: 'OTHER', ruriUser: "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*",
    ruriHost: 'example.com', fromName: "token1~` token2'+_ token3*%!.-", fromUser: 'mundane', fromHost: 'example.com',
    toUser: "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", toHost: 'example.com',
    callId: "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{", cseq: 139122385, branch: "z9hG4bK-.!%66*_+`'~", headerCount: 8,
  },
  esc01: {
    section: '3.1.1.3', status: PARSE_OK, what: 'INVITE', ruriUser: 'sips%3Auser%40example.com', ruriHost: 'example.net',
    fromUser: 'I%20have%20spaces', fromHost: 'example.net', toUser: '%75se%72', toHost: 'example.com',
    contactUser: 'cal%6Cer', contactHost: 'host5.example.net', callId: 'esc01.239409asdfakjkn23onasd0-3234', cseq: 234234,
  },
  escnull: {
    section: '3.1.1.4', status: PARSE_OK, what: 'REGISTER', fromUser: 'null-%00-null', toUser: 'null-%00-null',
    contactUser: '%00', contactHost: 'host5.example.com', contentLength: 0,
  },
  esc02: {
    section: '3.1.1.5', status: PARSE_OK, what: 'OTHER', ruriHost: 'registrar.example.com', fromName: '%Z%45',
    fromUser: 'resource', contactUser: 'alias1', branch: 'z9hG4bK209%fzsnel234', headerCount: 10,
  },
  lwsdisp: { section: '3.1.1.6', status: PARSE_OK, what: 'OPTIONS', fromName: 'caller', fromUser: 'caller', fromHost: 'example.com' },
  longreq: {
    section: '3.1.1.7', status: PARSE_OK, what: 'INVITE', toUser: 'user', toHost: 'example.com',
    fromUser: 'amazinglylongcallername'.repeat(5), fromHost: 'example.net', contactUser: 'amazinglylongcallername'.repeat(5),
    callId: `longreq.one${'really'.repeat(20)}longcallid`, cseq: 3882340, branch: '', headerCount: 43, contentLength: 150,
  },
  // One datagram, two messages: the REGISTER ends at its Content-Length: 0.
  dblreq: { section: '3.1.1.8', status: PARSE_OK, what: 'REGISTER', contactUser: 'j.user', contactHost: 'host.example.com', end: 300 },
  semiuri: { section: '3.1.1.9', status: PARSE_OK, what: 'OPTIONS', ruriUser: 'user;par=u%40example.net', ruriHost: 'example.com' },
  transports: { section: '3.1.1.10', status: PARSE_OK, what: 'OPTIONS', callId: 'transports.kijh4akdnaqjkwendsasfdj', branch: 'z9hG4bKkdjuw', headerCount: 12 },
  mpart01: {
    section: '3.1.1.11', status: PARSE_OK, what: 'MESSAGE', contactUser: 'fluffy', contactHost: '127.0.0.1',
    branch: 'z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-', contentLength: 553,
  },
  unreason: { section: '3.1.1.12', status: PARSE_OK, what: 200, toHost: 'example.edu', cseq: 35, contentLength: 154 },
  noreason: { section: '3.1.1.13', status: PARSE_OK, what: 100, contactHost: 'host105.example.com' },

  // ---- 3.1.2 invalid messages ----
  // Extra ';' and ',' in Via/Contact: the RFC expects a 400 from the element
  // that interprets those headers; the parser reads on (no branch found).
  badinv01: { section: '3.1.2.1', status: PARSE_OK, what: 'INVITE', branch: '', contactUser: 'joe' },
  // Content-Length past the datagram's end: on UDP the engine rejects an INCOMPLETE datagram.
  clerr: { section: '3.1.2.2', status: PARSE_INCOMPLETE, what: 'INVITE', contentLength: 9999, end: 344 + 9999 },
  ncl: { section: '3.1.2.3', status: PARSE_INVALID, reason: 'bad-content-length' },
  scalar02: { section: '3.1.2.4', status: PARSE_INVALID, reason: 'bad-cseq' },
  quotbal: { section: '3.1.2.5', status: PARSE_INVALID, reason: 'bad-to' },
  ltgtruri: { section: '3.1.2.6', status: PARSE_INVALID, reason: 'bad-request-uri' },
  lwsruri: { section: '3.1.2.7', status: PARSE_INVALID, reason: 'bad-request-line' },
  // §3.1.2.8/9: "acceptable to reject"; we do.
  lwsstart: { section: '3.1.2.8', status: PARSE_INVALID, reason: 'bad-request-line' },
  trws: { section: '3.1.2.9', status: PARSE_INVALID, reason: 'bad-request-line' },
  // Escaped headers in the Request-URI: acceptable to reject or to ignore them; we report user/host.
  escruri: { section: '3.1.2.10', status: PARSE_OK, what: 'INVITE', ruriUser: 'user', ruriHost: 'example.com' },
  regbadct: { section: '3.1.2.12', status: PARSE_OK, what: 'REGISTER', contactUser: 'user', contactHost: 'example.com' },
  badaspec: { section: '3.1.2.13', status: PARSE_OK, what: 'OPTIONS', toUser: 't.watson', toHost: 'example.org', fromName: 'Bell, Alexander' },
  baddn: { section: '3.1.2.14', status: PARSE_OK, what: 'OPTIONS', fromName: 'Bell, Alexander', fromUser: 'a.g.bell', toUser: 't.watson' },
  badvers: { section: '3.1.2.15', status: PARSE_INVALID, reason: 'bad-version' },
  mismatch01: { section: '3.1.2.16', status: PARSE_INVALID, reason: 'cseq-method-mismatch' },
  mismatch02: { section: '3.1.2.17', status: PARSE_INVALID, reason: 'cseq-method-mismatch' },
  bigcode: { section: '3.1.2.18', status: PARSE_INVALID, reason: 'bad-status-line' },

  // ---- 3.3 / 3.4 application layer: the parser accepts ----
  insuf: { section: '3.3.1', status: PARSE_OK, what: 'INVITE', fromUser: '', toUser: '', callId: '', cseq: 193942 },
  unksm2: { section: '3.3.4', status: PARSE_OK, what: 'REGISTER', toUser: '', toHost: '', fromHost: '', contactUser: '', contactHost: '' },
  bext01: { section: '3.3.5', status: PARSE_OK, what: 'OPTIONS', branch: 'z9hG4bKkdjuw' },
  mcl01: { section: '3.3.9', status: PARSE_INVALID, reason: 'conflicting-content-length' },
  // RFC 2543 syntax: no branch, no From tag, no Content-Length (body to the datagram's end).
  inv2543: {
    section: '3.4.1', status: PARSE_OK, what: 'INVITE', fromUser: '+13035551111', fromHost: 'ift.client.example.net',
    toUser: '+16505552222', toHost: 'ss1.example.net', branch: '', contentLength: -1,
  },
};

const text = (s: number, e: number): string => rangeText(msg, s, e);

for (const [name, x] of Object.entries(CASES)) {
  t.test(`${name} (RFC 4475 §${x.section})`, async (t) => {
    const buf = readFileSync(new URL(`${name}.sip`, dir));
    if (x.strictReason !== undefined) {
      t.equal(parseSip(buf, 0, buf.length, msg, false), PARSE_INVALID, 'strict: refused');
      t.equal(msg.reason, x.strictReason, 'strict: reason');
    }
    const st = parseSip(buf, 0, buf.length, msg, false, x.strictReason === undefined);
    t.equal(st, x.status, 'status');
    if (x.status === PARSE_INVALID) {
      t.equal(msg.reason, x.reason, 'reason');
      return;
    }
    t.equal(msg.reason, '');
    if (typeof x.what === 'number') {
      t.equal(msg.kind, KIND_RESPONSE);
      t.equal(msg.status, x.what);
    } else {
      t.equal(msg.kind, KIND_REQUEST);
      t.equal(METHOD_NAMES[msg.method], x.what);
    }
    const pairs: Array<[keyof Expect, number, number]> = [
      ['ruriUser', msg.ruriUserStart, msg.ruriUserEnd], ['ruriHost', msg.ruriHostStart, msg.ruriHostEnd],
      ['fromName', msg.fromNameStart, msg.fromNameEnd], ['fromUser', msg.fromUserStart, msg.fromUserEnd],
      ['fromHost', msg.fromHostStart, msg.fromHostEnd], ['toUser', msg.toUserStart, msg.toUserEnd],
      ['toHost', msg.toHostStart, msg.toHostEnd], ['contactUser', msg.contactUserStart, msg.contactUserEnd],
      ['contactHost', msg.contactHostStart, msg.contactHostEnd], ['callId', msg.callIdStart, msg.callIdEnd],
      ['branch', msg.viaBranchStart, msg.viaBranchEnd],
    ];
    for (const [k, s, e] of pairs) if (x[k] !== undefined) t.equal(text(s, e), x[k], k);
    if (x.cseq !== undefined) t.equal(msg.cseq, x.cseq, 'cseq');
    if (x.headerCount !== undefined) t.equal(msg.headerCount, x.headerCount, 'headerCount');
    if (x.contentLength !== undefined) t.equal(msg.contentLength, x.contentLength, 'contentLength');
    t.equal(msg.end, x.end ?? buf.length, 'end');
    if (x.status === PARSE_OK) t.ok(msg.bodyStart > 0 && msg.bodyStart <= msg.end);
  });
}

t.test('intmeth: the quoted-pairs of control bytes stay in the To display name', async (t) => {
  const buf = readFileSync(new URL('intmeth.sip', dir));
  t.equal(parseSip(buf, 0, buf.length, msg), PARSE_OK);
  const to = msg.headers.subarray(3, 6); // the second header is To
  const v = text(to[1]!, to[2]!);
  t.ok(v.startsWith('"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:'), JSON.stringify(v));
  t.equal(text(msg.headers[19]!, msg.headers[20]!), Buffer.from('efbbbfe5a4a7e5819ce99bbb', 'hex').toString('latin1'), 'UTF-8 value');
});

t.test('dblreq: the trailing INVITE parses too when the caller loops', async (t) => {
  const buf = readFileSync(new URL('dblreq.sip', dir));
  t.equal(parseSip(buf, 0, buf.length, msg), PARSE_OK);
  const next = msg.end;
  t.equal(parseSip(buf, next, buf.length, msg), PARSE_OK);
  t.equal(METHOD_NAMES[msg.method], 'INVITE');
  // Its SDP (153 bytes) runs past its Content-Length: 150; the message ends at 150.
  t.equal(msg.end, msg.bodyStart + 150);
  t.equal(buf.length - msg.end, 3);
  t.equal(text(msg.callIdStart, msg.callIdEnd), 'dblreq.0ha0isnda977644900765@192.0.2.15');
});

t.test('inv2543 on a stream: no Content-Length is refused (RFC 3261 §18.3 requires one on streams)', async (t) => {
  const buf = readFileSync(new URL('inv2543.sip', dir));
  t.equal(parseSip(buf, 0, buf.length, msg, true), PARSE_INVALID);
  t.equal(msg.reason, 'missing-content-length');
  // Read leniently (what the PBX itself sends): no body, and the SDP is then no SIP message.
  t.equal(parseSip(buf, 0, buf.length, msg, true, false), PARSE_OK);
  t.equal(msg.end, msg.bodyStart);
  t.equal(parseSip(buf, msg.end, buf.length, msg, true, false), PARSE_INVALID, 'the SDP is then no SIP message');
});

t.test('every fixture is covered by a case', async (t) => {
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(dir).filter((f) => f.endsWith('.sip')).map((f) => f.slice(0, -4)).sort();
  t.same(files, Object.keys(CASES).sort());
});
