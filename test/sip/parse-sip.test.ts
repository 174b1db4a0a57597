// parseSip on hand-written messages: start lines, keep-alives, header
// syntax (HCOLON, folding, case, compact forms), framing by Content-Length
// on datagrams and streams, the caps, and the convenience ranges.

import t from 'tap';
import { parseSip } from '../../src/sip/parse-sip.js';
import { rangeText, SipMessage } from '../../src/sip/sip-message.js';
import {
  H_ACCEPT_CONTACT, H_ALLOW_EVENTS, H_CALL_ID, H_CONTACT, H_CONTENT_ENCODING, H_CONTENT_LENGTH, H_CONTENT_TYPE,
  H_CSEQ, H_EVENT, H_FROM, H_IDENTITY, H_IDENTITY_INFO, H_MAX_FORWARDS, H_OTHER, H_REFERRED_BY, H_REFER_TO,
  H_REJECT_CONTACT, H_REQUEST_DISPOSITION, H_SESSION_EXPIRES, H_SUBJECT, H_SUPPORTED, H_TO, H_USER_AGENT, H_VIA,
  INVALID_REASONS, KIND_KEEPALIVE, KIND_NONE, KIND_REQUEST, KIND_RESPONSE, M_ACK, M_INVITE, M_OPTIONS, M_OTHER,
  M_REGISTER, MAX_CONTENT_LENGTH, MAX_HEADER_BYTES, MAX_HEADERS, PARSE_INCOMPLETE, PARSE_INVALID, PARSE_OK,
} from '../../src/sip/constants.js';

const msg = new SipMessage();

function parse(text: string | Buffer, stream = false): number {
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  return parseSip(buf, 0, buf.length, msg, stream);
}
const txt = (s: number, e: number): string => rangeText(msg, s, e);

/** A small valid request; `extra` header lines go before Content-Length. */
function request(extra = '', first = 'OPTIONS sip:alice@example.com SIP/2.0'): string {
  return (
    `${first}\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\nFrom: <sip:bob@example.org>;tag=1\r\n` +
    `To: <sip:alice@example.com>\r\nCall-ID: a84b4c76e66710\r\nCSeq: 314159 OPTIONS\r\n${extra}Content-Length: 0\r\n\r\n`
  );
}

t.test('request line', async (t) => {
  t.equal(parse(request()), PARSE_OK);
  t.equal(msg.kind, KIND_REQUEST);
  t.equal(msg.method, M_OPTIONS);
  t.equal(txt(msg.methodStart, msg.methodEnd), 'OPTIONS');
  t.equal(txt(msg.ruriStart, msg.ruriEnd), 'sip:alice@example.com');
  t.equal(txt(msg.ruriUserStart, msg.ruriUserEnd), 'alice');
  t.equal(txt(msg.ruriHostStart, msg.ruriHostEnd), 'example.com');
  t.equal(msg.status, 0);
  t.equal(msg.reason, '');

  // RFC 3261 §7.1 makes methods case-sensitive, but Kamailio reads "options"
  // as OPTIONS and routes it so: to sipwall it is OPTIONS too (header-names.ts).
  t.equal(parse(request('', 'options sip:a@b SIP/2.0').replace('CSeq: 314159 OPTIONS', 'CSeq: 1 options')), PARSE_OK);
  t.equal(msg.method, M_OPTIONS);
  t.equal(txt(msg.methodStart, msg.methodEnd), 'options');
  // The SIP-Version is case-insensitive (§7.1).
  t.equal(parse(request('', 'OPTIONS sip:a@b sip/2.0')), PARSE_OK);

  const bad: Array<[string, string]> = [
    ['OPTIONS  sip:a@b SIP/2.0', 'bad-request-line'], // two SP (RFC 4475 lwsstart)
    ['OPTIONS sip:a@b SIP/2.0 ', 'bad-request-line'], // trailing SP (trws)
    ['OPTIONS <sip:a@b> SIP/2.0', 'bad-request-uri'], // ltgtruri
    ['OPTIONS sip:a@b; lr SIP/2.0', 'bad-request-line'], // lwsruri
    ['OPTIONS 1sip:a@b SIP/2.0', 'bad-request-uri'], // a scheme starts with ALPHA
    ['OPTIONS a@b SIP/2.0', 'bad-request-uri'], // no scheme
    ['OPTIONS sip:a\u00e9b SIP/2.0', 'bad-request-uri'], // non-ASCII must be %-escaped
    ['OPTIONS sip:a@b SIP/3.0', 'bad-version'],
    ['OPTIONS sip:a@b SIP/2.01', 'bad-version'],
    ['OPTIONS sip:a@b HTTP/1.1', 'bad-request-line'],
    ['OPTIONS sip:a@b', 'bad-request-line'],
    ['OPT@ONS sip:a@b SIP/2.0', 'bad-request-line'],
    ['GET / HTTP/1.1', 'bad-request-uri'],
    [' OPTIONS sip:a@b SIP/2.0', 'bad-start-line'],
    ['OPTIONS sip:a@b SIP/2.0\rX', 'bad-line-end'],
  ];
  for (const [line, reason] of bad) {
    t.equal(parse(`${line}\r\nContent-Length: 0\r\n\r\n`), PARSE_INVALID, line);
    t.equal(msg.reason, reason, line);
    t.ok(INVALID_REASONS.includes(msg.reason), `${reason} is listed`);
  }
});

t.test('status line', async (t) => {
  const resp = (line: string): string =>
    `${line}\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n`;
  t.equal(parse(resp('SIP/2.0 180 Ringing')), PARSE_OK);
  t.equal(msg.kind, KIND_RESPONSE);
  t.equal(msg.status, 180);
  // A response's method is its CSeq method (§8.1.1.5).
  t.equal(msg.method, M_INVITE);
  t.equal(txt(msg.methodStart, msg.methodEnd), 'INVITE');
  t.equal(msg.ruriStart, -1);
  t.equal(parse(resp('SIP/2.0 100 ')), PARSE_OK, 'empty reason phrase (RFC 4475 noreason)');
  t.equal(parse(resp('SIP/2.0 100')), PARSE_OK, 'no SP before an empty reason phrase: accepted');
  t.equal(parse(resp('SIP/2.0 699 x')), PARSE_OK);
  t.equal(parse(resp('sip/2.0 200 OK')), PARSE_OK);
  for (const [line, reason] of [
    ['SIP/2.0 099 Low', 'bad-status-line'],
    ['SIP/2.0 700 High', 'bad-status-line'],
    ['SIP/2.0 20 Short', 'bad-status-line'],
    ['SIP/2.0 4294967301 better not break the receiver', 'bad-status-line'],
    ['SIP/2.0 2OO OK', 'bad-status-line'],
    ['SIP/2.0  200 OK', 'bad-status-line'],
    ['SIP/7.0 200 OK', 'bad-version'],
    ['SIP/2.00 200 OK', 'bad-version'],
  ] as const) {
    t.equal(parse(resp(line)), PARSE_INVALID, line);
    t.equal(msg.reason, reason, line);
  }
});

t.test('CRLF keep-alives (RFC 5626 §3.5.1)', async (t) => {
  t.equal(parse('\r\n\r\n'), PARSE_OK);
  t.equal(msg.kind, KIND_KEEPALIVE);
  t.equal(msg.end, 4);
  t.equal(parse('\r\n'), PARSE_OK);
  t.equal(msg.kind, KIND_KEEPALIVE);
  t.equal(msg.end, 2, 'pong');
  t.equal(parse('\r\n\r'), PARSE_INCOMPLETE, 'a ping cut short');
  t.equal(msg.kind, KIND_NONE);
  t.equal(parse('\r'), PARSE_INCOMPLETE);
  t.equal(parse('\rX'), PARSE_INVALID);
  t.equal(msg.reason, 'bad-line-end');
  t.equal(parse(''), PARSE_INCOMPLETE);

  // Leading CRLFs before a request (RFC 3261 §7.5) come back as keep-alive
  // units; the caller's loop then reaches the request.
  const buf = Buffer.from('\r\n\r\n\r\n' + request(), 'latin1');
  const seen: number[] = [];
  let p = 0;
  while (p < buf.length) {
    t.equal(parseSip(buf, p, buf.length, msg, true), PARSE_OK);
    seen.push(msg.kind, msg.end - p);
    p = msg.end;
  }
  t.same(seen, [KIND_KEEPALIVE, 4, KIND_KEEPALIVE, 2, KIND_REQUEST, request().length]);
});

t.test('header names: case, compact forms, HCOLON', async (t) => {
  const compact: Array<[string, number]> = [
    ['i', H_CALL_ID], ['f', H_FROM], ['t', H_TO], ['v', H_VIA], ['m', H_CONTACT], ['l', H_CONTENT_LENGTH],
    ['k', H_SUPPORTED], ['c', H_CONTENT_TYPE], ['e', H_CONTENT_ENCODING], ['s', H_SUBJECT], ['o', H_EVENT],
    ['u', H_ALLOW_EVENTS], ['r', H_REFER_TO], ['b', H_REFERRED_BY], ['x', H_SESSION_EXPIRES], ['y', H_IDENTITY],
    ['a', H_ACCEPT_CONTACT], ['j', H_REJECT_CONTACT], ['d', H_REQUEST_DISPOSITION], ['n', H_IDENTITY_INFO],
  ];
  for (const [letter, id] of compact) {
    for (const name of [letter, letter.toUpperCase()]) {
      const value = id === H_CONTENT_LENGTH ? '0' : id === H_CSEQ ? '1 OPTIONS' : `<sip:x${name}@h.example>`;
      const text = `OPTIONS sip:a@b SIP/2.0\r\n${name}: ${value}\r\n\r\n`;
      t.equal(parse(text), PARSE_OK, name);
      t.equal(msg.headerCount, 1);
      t.equal(msg.headers[0], id, `${name} -> ${id}`);
      t.equal(txt(msg.headers[1]!, msg.headers[2]!), value);
      t.equal(txt(msg.headerNames[0]!, msg.headerNames[1]!), name);
    }
  }
  // A letter that is no compact form is an unknown header.
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\r\nz: 1\r\nQ: 2\r\n\r\n'), PARSE_OK);
  t.same([msg.headers[0], msg.headers[3]], [H_OTHER, H_OTHER]);

  const spelled = [
    'CALL-ID', 'call-id', 'Call-Id', 'cAlL-iD', 'VIA', 'via', 'FROM', 'to', 'TO', 'cseq', 'CSEQ', 'contact', 'CONTENT-LENGTH',
    'content-type', 'USER-AGENT', 'max-forwards', 'MAX-FORWARDS',
  ];
  const ids = [
    H_CALL_ID, H_CALL_ID, H_CALL_ID, H_CALL_ID, H_VIA, H_VIA, H_FROM, H_TO, H_TO, H_CSEQ, H_CSEQ, H_CONTACT,
    H_CONTENT_LENGTH, H_CONTENT_TYPE, H_USER_AGENT, H_MAX_FORWARDS, H_MAX_FORWARDS,
  ];
  spelled.forEach((name, i) => {
    const value = ids[i] === H_CONTENT_LENGTH ? '0' : ids[i] === H_CSEQ ? '2 OPTIONS' : 'x';
    parse(`OPTIONS sip:a@b SIP/2.0\r\n${name}: ${value}\r\n\r\n`);
    t.equal(msg.headers[0], ids[i], name);
  });
  // Near misses stay unknown.
  for (const name of ['Vias', 'Fro', 'Call-IDs', 'Content-Lengt', 'Content-Lengthx', 'X-Via', 'Contacts', 'C%6Fntact']) {
    t.equal(parse(`OPTIONS sip:a@b SIP/2.0\r\n${name}: 5\r\n\r\n`), PARSE_OK, name);
    t.equal(msg.headers[0], H_OTHER, name);
    t.equal(msg.contentLength, -1);
  }

  // HCOLON = *( SP / HTAB ) ":" SWS
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\r\nCall-ID \t :  \t abc  \r\n\r\n'), PARSE_OK);
  t.equal(txt(msg.callIdStart, msg.callIdEnd), 'abc');
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\r\nCall-ID:abc\r\n\r\n'), PARSE_OK);
  t.equal(txt(msg.callIdStart, msg.callIdEnd), 'abc');

  for (const [line, reason] of [
    ['NoColonHere', 'missing-colon'],
    ['Call ID: x', 'bad-header-name'],
    [': x', 'bad-header-name'],
    ['Call-ID\u00e9: x', 'bad-header-name'],
    ['Bad[Name]: x', 'bad-header-name'],
    ['Call-ID\r: x', 'bad-header-name'],
  ] as const) {
    t.equal(parse(`OPTIONS sip:a@b SIP/2.0\r\n${line}\r\n\r\n`), PARSE_INVALID, line);
    t.equal(msg.reason, reason, line);
  }
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\r\n folded: x\r\n\r\n'), PARSE_INVALID, 'continuation right after the start line');
  t.equal(msg.reason, 'bad-fold');
});

t.test('line folding and value trimming (RFC 3261 §7.3.1)', async (t) => {
  const text =
    'OPTIONS sip:a@b SIP/2.0\r\nSubject: first\r\n \t second\r\n\tthird  \r\nTO :\r\n sip:x@y.example ;tag=1\r\n' +
    'Call-ID:\r\n   folded-id\r\ns :\r\n\r\n';
  t.equal(parse(text), PARSE_OK);
  t.equal(msg.headerCount, 4);
  t.equal(txt(msg.headers[1]!, msg.headers[2]!), 'first\r\n \t second\r\n\tthird', 'one header spanning the folds');
  t.equal(msg.headers[3], H_TO);
  t.equal(txt(msg.toUserStart, msg.toUserEnd), 'x');
  t.equal(txt(msg.toHostStart, msg.toHostEnd), 'y.example');
  t.equal(txt(msg.callIdStart, msg.callIdEnd), 'folded-id');
  t.equal(msg.headers[9], H_SUBJECT);
  t.equal(msg.headers[10], msg.headers[11], 'an empty value is an empty range');
  // A bare LF works everywhere a CRLF does, folds included.
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\nSubject: a\n b\nCall-ID: c\n\n'), PARSE_OK);
  t.equal(txt(msg.headers[1]!, msg.headers[2]!), 'a\n b');
  t.equal(txt(msg.callIdStart, msg.callIdEnd), 'c');
  t.equal(msg.bodyStart, msg.end);
  // A lone CR ends a line for pjsip (Asterisk): for us it is bad-line-end, never a byte of the value.
  for (const bad of [
    'OPTIONS sip:a@b SIP/2.0\r\nSubject: a\rb\r\nCall-ID: c\r\n\r\n',
    'OPTIONS sip:a@b SIP/2.0\r\nX-Pad: a\rTo: <sip:1@b>\r\n\r\n',
    'OPTIONS sip:a@b SIP/2.0\r\nCall-ID: abc\r\r\n\r\n',
    'OPTIONS sip:a@b SIP/2.0\r\nSubject: a\r\n b\rc\r\n\r\n',
    'OPTIONS sip:a@b SIP/2.0\nSubject: a\rb\nCall-ID: c\n\n',
    'OPTIONS sip:a@b SIP/2.0\r\nSubject: \r\r\n\r\n',
    'SIP/2.0 200 OK\rCall-ID: c\r\n\r\n',
  ]) {
    t.equal(parse(bad), PARSE_INVALID, JSON.stringify(bad));
    t.equal(msg.reason, 'bad-line-end');
  }
  const lone = Buffer.from('SIP/2.0 401 Unauthorized\r\nSubject: a\rb\r\nCall-ID: c\r\n\r\n');
  t.equal(parseSip(lone, 0, lone.length, msg, false, false), PARSE_OK, 'unchecked (what the PBX sends): a lone CR is a byte of the value');
  t.equal(txt(msg.callIdStart, msg.callIdEnd), 'c');
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\r\nSubject: a\r\n b\r\n\tc\r\nCall-ID: c\r\n\r\n'), PARSE_OK, 'the CRs of folds are CRLFs');
  t.equal(txt(msg.headers[1]!, msg.headers[2]!), 'a\r\n b\r\n\tc');
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\nSubject: a\r\n b\nCall-ID: c\n\n'), PARSE_OK, 'a CRLF fold in a line ended by LF');
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\r\nCall-ID: c\r\n\rX'), PARSE_INVALID, 'the blank line is CRLF or LF');
  t.equal(msg.reason, 'bad-line-end');
});

t.test('Content-Length framing (RFC 3261 §18.3, §20.14)', async (t) => {
  const head = 'INVITE sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\n';
  t.equal(parse(`${head}Content-Length: 4\r\n\r\nbodyNEXT`), PARSE_OK);
  t.equal(msg.contentLength, 4);
  t.equal(msg.end - msg.bodyStart, 4);
  t.equal(msg.end, `${head}Content-Length: 4\r\n\r\nbody`.length);
  t.equal(parse(`${head}l: 0004\r\n\r\nbody`), PARSE_OK, 'compact form, leading zeros');
  t.equal(msg.contentLength, 4);
  t.equal(parse(`${head}Content-Length: 10\r\n\r\nbody`), PARSE_INCOMPLETE, 'body shorter than Content-Length');
  t.ok(msg.bodyStart > 0, 'headers are whole: bodyStart is set');
  t.equal(msg.end, msg.bodyStart + 10, 'end is where the body will end');
  t.equal(msg.method, M_INVITE, 'header fields are filled');
  t.equal(parse(`${head}Content-Length: 4\r\nContent-Length: 4\r\n\r\nbody`), PARSE_OK, 'a repeated equal value');
  const clCases: Array<[string, string]> = [
    ['-1', 'bad-content-length'], ['', 'bad-content-length'], ['4 4', 'bad-content-length'], ['0x10', 'bad-content-length'],
    ['+4', 'bad-content-length'], [String(MAX_CONTENT_LENGTH + 1), 'content-length-too-large'],
    ['99999999999999999999999', 'content-length-too-large'], ['9999999999999999999999x', 'bad-content-length'],
  ];
  for (const [v, reason] of clCases) {
    t.equal(parse(`${head}Content-Length: ${v}\r\n\r\n`), PARSE_INVALID, v);
    t.equal(msg.reason, reason, v);
  }
  t.equal(parse(`${head}Content-Length: ${MAX_CONTENT_LENGTH}\r\n\r\n`), PARSE_INCOMPLETE, 'the cap itself is allowed');
  t.equal(parse(`${head}Content-Length: 4\r\nl: 5\r\n\r\nbody`), PARSE_INVALID);
  t.equal(msg.reason, 'conflicting-content-length');

  // No Content-Length: a datagram's body runs to its end; on a stream, where
  // §18.3 requires one, the message is refused (the PBXs frame it apart).
  const noCl = `${head}\r\nv=0\r\n`;
  t.equal(parse(noCl, false), PARSE_OK);
  t.equal(msg.contentLength, -1);
  t.equal(msg.end, noCl.length);
  t.equal(parse(noCl, true), PARSE_INVALID);
  t.equal(msg.reason, 'missing-content-length');
  const b = Buffer.from(noCl);
  t.equal(parseSip(b, 0, b.length, msg, true, false), PARSE_OK, 'what the PBX sends (no strict checks): empty body');
  t.equal(msg.end, head.length + 2);
  t.equal(msg.bodyStart, msg.end);
  // On a stream the blank line must be CRLF: pjsip_find_msg ends headers only at "\n\r\n".
  t.equal(parse(`${head}Content-Length: 0\r\n\n`, true), PARSE_INVALID);
  t.equal(msg.reason, 'bad-line-end');
  t.equal(parse(`${head}Content-Length: 0\r\n\n`, false), PARSE_OK, 'on a datagram a bare LF still ends the headers');
  // The digits on a continuation line: Kamailio's TCP reader sees no length there.
  t.equal(parse(`${head}Content-Length:\r\n 0\r\n\r\n`, true), PARSE_INVALID);
  t.equal(msg.reason, 'bad-content-length');
});

t.test('CSeq (RFC 3261 §8.1.1.5, §20.16)', async (t) => {
  const req = (cseq: string, method = 'REGISTER'): string => `${method} sip:b SIP/2.0\r\nCSeq: ${cseq}\r\n\r\n`;
  t.equal(parse(req('2147483647 REGISTER')), PARSE_OK);
  t.equal(msg.cseq, 2147483647);
  t.equal(msg.cseqMethod, M_REGISTER);
  t.equal(parse(req('0009 REGISTER')), PARSE_OK, 'leading zeros');
  t.equal(msg.cseq, 9);
  // A fold is LWS (§7.3.1), but chan_sip without pedantic checking ends the line there and answers "CSeq: 9".
  t.equal(parse(req('0009\r\n  REGISTER')), PARSE_INVALID, 'a folded method is refused in a request we judge');
  t.equal(msg.reason, 'bad-cseq');
  const folded = Buffer.from(req('0009\r\n  REGISTER'), 'latin1');
  t.equal(parseSip(folded, 0, folded.length, msg, false, false), PARSE_OK, 'and read, leniently, in what the PBX sends');
  t.equal(msg.cseq, 9);
  t.equal(parse(req('5 NEWTHING', 'NEWTHING')), PARSE_OK, 'extension methods compare byte for byte');
  t.equal(msg.cseqMethod, M_OTHER);
  for (const v of ['2147483648 REGISTER', '36893488147419103232 REGISTER', 'REGISTER', '1', '1REGISTER', 'x REGISTER', '1 REGISTER x']) {
    t.equal(parse(req(v)), PARSE_INVALID, v);
    t.equal(msg.reason, 'bad-cseq', v);
  }
  t.equal(parse(req('1 INVITE')), PARSE_INVALID);
  t.equal(msg.reason, 'cseq-method-mismatch');
  t.equal(parse(req('1 NEWTHINGS', 'NEWTHING')), PARSE_INVALID);
  t.equal(msg.reason, 'cseq-method-mismatch');
  t.equal(parse(req('1 register')), PARSE_OK, 'a method in another case is the same method (as Kamailio reads it)');
  t.equal(msg.cseqMethod, M_REGISTER);
  t.equal(parse(req('1 newthing', 'NEWTHING')), PARSE_INVALID, 'extension methods still compare byte for byte');
  t.equal(parse('ACK sip:b SIP/2.0\r\nCall-ID: x\r\n\r\n'), PARSE_OK, 'no CSeq: the application decides');
  t.equal(msg.method, M_ACK);
  t.equal(msg.cseq, -1);
  // CSeq and Call-ID appear once: PBXs differ on which of two counts.
  t.equal(parse('ACK sip:b SIP/2.0\r\nCSeq: 3 ACK\r\nCSeq: 4 INVITE\r\n\r\n'), PARSE_INVALID);
  t.equal(msg.reason, 'repeated-header');
  t.equal(parse('ACK sip:b SIP/2.0\r\nCSeq: 3 ACK\r\nCSeq: 3 ACK\r\n\r\n'), PARSE_INVALID, 'even with the same value');
  t.equal(parse('ACK sip:b SIP/2.0\r\nCall-ID: a\r\ni: b\r\nCSeq: 3 ACK\r\n\r\n'), PARSE_INVALID, 'a second Call-ID, compact or not');
  t.equal(msg.reason, 'repeated-header');
});

t.test('From, To, Contact: name-addr and addr-spec', async (t) => {
  const cases: Array<[string, string, string, string]> = [
    // value, display name, user, host
    ['"Alice Smith" <sip:alice@atlanta.example.com>;tag=88sja8x', 'Alice Smith', 'alice', 'atlanta.example.com'],
    ['Alice <sips:alice@atlanta.example.com:5061;transport=tls>', 'Alice', 'alice', 'atlanta.example.com'],
    ['sip:alice@atlanta.example.com;tag=1928301774', '', 'alice', 'atlanta.example.com'],
    ['sip:+15551234567;phone-context=example.com@gw.example.com;user=phone', '', '+15551234567;phone-context=example.com', 'gw.example.com'],
    ['<sip:alice:secret@atlanta.example.com>', '', 'alice', 'atlanta.example.com'],
    ['<sip:[2001:db8::1]:5060>', '', '', '[2001:db8::1]'],
    ['"v6" <sip:bob@[2001:db8::2]>;tag=9', 'v6', 'bob', '[2001:db8::2]'],
    ['sip:bob@[2001:db8::3]:5070;tag=9', '', 'bob', '[2001:db8::3]'],
    ['<tel:+1-201-555-0123;phone-context=example.com>', '', '+1-201-555-0123', ''],
    ['tel:+15551234567;tag=1', '', '+15551234567', ''],
    ['<sip:%61lice@example.com>', '', '%61lice', 'example.com'],
    ['"Quote \\" in \\\\ name" <sip:q@example.com>', 'Quote \\" in \\\\ name', 'q', 'example.com'],
    ['caller<sip:caller@example.com>;tag=323', 'caller', 'caller', 'example.com'],
    ['< sip:t.watson@example.org >', '', 't.watson', 'example.org'],
    ['<http://www.example.com>;tag=3234233', '', '', ''],
    ['isbn:2983792873', '', '', ''],
    ['SIP:Carol@Chicago.Example.COM', '', 'Carol', 'Chicago.Example.COM'],
    ['sip:example.com;tag=1,sip:other@x.example', '', '', 'example.com'],
    ['""<sip:e@example.com>', '', 'e', 'example.com'],
  ];
  for (const [value, name, user, host] of cases) {
    const text = `OPTIONS sip:a@b SIP/2.0\r\nFrom: ${value}\r\nTo: ${value}\r\nContact: ${value}\r\n\r\n`;
    t.equal(parse(text), PARSE_OK, value);
    t.equal(txt(msg.fromNameStart, msg.fromNameEnd), name, `${value} name`);
    t.equal(txt(msg.fromUserStart, msg.fromUserEnd), user, `${value} user`);
    t.equal(txt(msg.fromHostStart, msg.fromHostEnd), host, `${value} host`);
    t.same([txt(msg.toUserStart, msg.toUserEnd), txt(msg.toHostStart, msg.toHostEnd)], [user, host], `${value} To`);
    t.same([txt(msg.contactUserStart, msg.contactUserEnd), txt(msg.contactHostStart, msg.contactHostEnd)], [user, host], `${value} Contact`);
  }
  t.equal(parse('REGISTER sip:b SIP/2.0\r\nContact: *\r\nExpires: 0\r\n\r\n'), PARSE_OK, 'Contact: * has no user or host');
  t.same([msg.contactUserStart, msg.contactHostStart], [-1, -1]);
  t.equal(parse('REGISTER sip:b SIP/2.0\r\nm: <sip:one@h1.example>, <sip:two@h2.example>\r\nContact: <sip:three@h3>\r\n\r\n'), PARSE_OK);
  t.equal(txt(msg.contactUserStart, msg.contactUserEnd), 'one', 'the first contact of the first Contact');

  const broken = ['"Mr. J. User <sip:j.user@example.com>', '<sip:j.user@example.com', '"name" sip:j@example.com'];
  for (const [hdr, reason] of [['From', 'bad-from'], ['To', 'bad-to']]) {
    t.equal(parse(`OPTIONS sip:a@b SIP/2.0\r\n${hdr}: ${broken[0]}\r\n\r\n`), PARSE_INVALID);
    t.equal(msg.reason, reason, `${hdr}: unterminated quoted string (RFC 4475 quotbal)`);
    t.equal(parse(`OPTIONS sip:a@b SIP/2.0\r\n${hdr}: ${broken[1]}\r\n\r\n`), PARSE_INVALID);
    t.equal(msg.reason, reason, `${hdr}: '<' without '>'`);
    t.equal(parse(`OPTIONS sip:a@b SIP/2.0\r\n${hdr}: ${broken[2]}\r\n\r\n`), PARSE_INVALID);
    t.equal(msg.reason, reason, `${hdr}: quoted display name without <...>`);
  }
  // Contact is decoded on first read: a broken one reads as absent, the message stays valid.
  for (const value of broken) {
    t.equal(parse(`OPTIONS sip:a@b SIP/2.0\r\nContact: ${value}\r\n\r\n`), PARSE_OK, `Contact: ${value}`);
    t.same([msg.contactUserStart, msg.contactUserEnd, msg.contactHostStart, msg.contactHostEnd], [-1, -1, -1, -1], `Contact: ${value} reads as absent`);
  }
  // Lazily decoded fields belong to the message they were read from.
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\r\nContact: <sip:old@h1>\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-1\r\n\r\n'), PARSE_OK);
  t.equal(txt(msg.contactUserStart, msg.contactUserEnd), 'old');
  t.equal(txt(msg.viaBranchStart, msg.viaBranchEnd), 'z9hG4bK-1');
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\r\nContact: <sip:new@h2>\r\n\r\n'), PARSE_OK);
  t.equal(txt(msg.contactUserStart, msg.contactUserEnd), 'new', 'decoded again after the next parse');
  t.equal(msg.viaBranchStart, -1, 'no Via: no branch, not the last message\'s');
  // Only the first From is read.
  t.equal(parse('OPTIONS sip:a@b SIP/2.0\r\nFrom: <sip:first@one>\r\nFrom: <sip:second@two>\r\n\r\n'), PARSE_OK);
  t.equal(txt(msg.fromUserStart, msg.fromUserEnd), 'first');
});

t.test('Request-URI user and host', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['sip:secret-7f3a.pbx.example.com', '', 'secret-7f3a.pbx.example.com'],
    ['sip:100@10.99.0.2', '100', '10.99.0.2'],
    ['sip:100@10.99.0.2:5060;transport=udp', '100', '10.99.0.2'],
    ['sips:alice:pw@example.com?subject=x', 'alice', 'example.com'],
    ['sip:user;par=u%40example.net@example.com', 'user;par=u%40example.net', 'example.com'],
    ['sip:[2001:db8::10]:5060', '', '[2001:db8::10]'],
    ['sip:alice@[2001:db8::10];lr', 'alice', '[2001:db8::10]'],
    ['sip:[2001:db8::10', '', ''],
    ['tel:+358-555-1234567;postd=pp22', '+358-555-1234567', ''],
    ['urn:service:sos', '', ''],
    ['sip:', '', ''],
  ];
  for (const [uri, user, host] of cases) {
    t.equal(parse(`OPTIONS ${uri} SIP/2.0\r\n\r\n`), PARSE_OK, uri);
    t.equal(txt(msg.ruriStart, msg.ruriEnd), uri);
    t.equal(txt(msg.ruriUserStart, msg.ruriUserEnd), user, `${uri} user`);
    t.equal(txt(msg.ruriHostStart, msg.ruriHostEnd), host, `${uri} host`);
  }
});

t.test('Via branch, User-Agent, Call-ID, credentials', async (t) => {
  const text =
    'REGISTER sip:pbx.example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/UDP 10.0.0.1:5060;rport;received="10.0.0.1";BRANCH = z9hG4bK-first;x=1\r\n' +
    'Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-second\r\n' +
    'User-Agent: friendly-scanner\r\nUser-Agent: second\r\nCall-ID: abc@def\r\n' +
    'Proxy-Authorization: Digest realm="pbx", username="alice \\"a\\"",nonce="n"\r\n' +
    'Authorization: Digest username="bob"\r\n\r\n';
  t.equal(parse(text), PARSE_OK);
  t.equal(txt(msg.viaBranchStart, msg.viaBranchEnd), 'z9hG4bK-first');
  t.equal(txt(msg.userAgentStart, msg.userAgentEnd), 'friendly-scanner');
  t.equal(txt(msg.callIdStart, msg.callIdEnd), 'abc@def');
  t.equal(msg.hasCredentials, true);
  t.equal(txt(msg.authUserStart, msg.authUserEnd), 'alice \\"a\\"', 'without the quotes, quoted-pairs kept');

  const branch = (via: string): string => {
    parse(`OPTIONS sip:a@b SIP/2.0\r\nVia: ${via}\r\n\r\n`);
    return txt(msg.viaBranchStart, msg.viaBranchEnd);
  };
  t.equal(branch('SIP/2.0/UDP h, SIP/2.0/UDP g;branch=z9hG4bKsecond'), '', 'the first via-parm has no branch');
  t.equal(branch('SIP/2.0/UDP h;maddr=";branch=fake";branch=z9hG4bKreal'), 'z9hG4bKreal', 'quoted values are skipped');
  t.equal(branch('SIP/2.0/UDP h;x=1,SIP/2.0/UDP g;branch=z9hG4bKsecond'), '');
  t.equal(branch('SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKv6'), 'z9hG4bKv6');
  t.equal(branch('SIP/2.0/UDP h;branch=\r\n z9hG4bKfolded'), 'z9hG4bKfolded');
  t.equal(branch('SIP/2.0/UDP h;branch'), '');
  t.equal(branch('SIP/2.0/UDP h;branches=z9hG4bKno'), '');
  // The byte-for-byte ";branch=" shortcut must agree with the general walk.
  t.equal(branch('SIP/2.0/UDP h;branch= z9hG4bKspace'), 'z9hG4bKspace', 'LWS after the = of the shortcut form');
  t.equal(branch('SIP/2.0/UDP h;branch=;branch=z9hG4bKlater'), '', 'an empty first branch is no branch');
  t.equal(branch('SIP/2.0/UDP h;branch=z9hG4bKend'), 'z9hG4bKend', 'the value runs to the end of the field');
  t.equal(branch('SIP/2.0/UDP h;branch=z9hG4bKa;rport,SIP/2.0/UDP g;branch=z9hG4bKb'), 'z9hG4bKa');
  t.equal(branch('SIP/2.0/UDP h;branch="z9hG4bKq"'), '', 'a quoted value is not a token');

  t.equal(parse('REGISTER sip:b SIP/2.0\r\nAuthorization: Digest realm="x", nonce="y"\r\n\r\n'), PARSE_OK);
  t.equal(msg.hasCredentials, true, 'credentials without a username');
  t.equal(msg.authUserStart, -1);
  t.equal(parse('REGISTER sip:b SIP/2.0\r\nAuthorization: Digest username=carol,realm=x\r\n\r\n'), PARSE_OK);
  t.equal(txt(msg.authUserStart, msg.authUserEnd), 'carol', 'a token value');
  t.equal(parse('REGISTER sip:b SIP/2.0\r\nAuthorization: Digest username="unterminated\r\n\r\n'), PARSE_OK);
  t.equal(msg.authUserStart, -1);
  t.equal(parse(request()), PARSE_OK);
  t.equal(msg.hasCredentials, false);
});

t.test('caps: MAX_HEADERS and MAX_HEADER_BYTES', async (t) => {
  let many = 'OPTIONS sip:a@b SIP/2.0\r\n';
  for (let i = 0; i < MAX_HEADERS + 10; i++) many += `X-H${i}: ${i}\r\n`;
  many += 'User-Agent: late\r\nContent-Length: 3\r\n\r\nabc';
  t.ok(many.length < MAX_HEADER_BYTES);
  t.equal(parse(many), PARSE_OK);
  t.equal(msg.headerCount, MAX_HEADERS, 'only MAX_HEADERS recorded');
  t.equal(txt(msg.headers[(MAX_HEADERS - 1) * 3 + 1]!, msg.headers[(MAX_HEADERS - 1) * 3 + 2]!), String(MAX_HEADERS - 1));
  t.equal(msg.contentLength, 3, 'a Content-Length past the cap still frames the message');
  t.equal(txt(msg.userAgentStart, msg.userAgentEnd), 'late', 'and headers past it are still read');
  t.equal(msg.end, many.length);

  const filler = `X-Pad: ${'p'.repeat(100)}\r\n`;
  let long = 'OPTIONS sip:a@b SIP/2.0\r\n';
  while (long.length + filler.length < MAX_HEADER_BYTES) long += filler;
  const exact = long + 'X: ' + 'q'.repeat(MAX_HEADER_BYTES - long.length - 7) + '\r\n\r\n';
  t.equal(exact.length, MAX_HEADER_BYTES);
  t.equal(parse(exact), PARSE_OK, 'a header section of exactly MAX_HEADER_BYTES');
  const over = long + 'X: ' + 'q'.repeat(MAX_HEADER_BYTES - long.length - 6) + '\r\n\r\n';
  t.equal(parse(over), PARSE_INVALID, 'one byte more');
  t.equal(msg.reason, 'headers-too-long');
  t.equal(parse(over.slice(0, MAX_HEADER_BYTES)), PARSE_INCOMPLETE, 'the buffer simply ends at the cap');
  t.equal(parse(long + 'X: ' + 'q'.repeat(20000)), PARSE_INVALID, 'a header line that never ends');
  t.equal(msg.reason, 'headers-too-long');
  t.equal(parse('OPTIONS sip:' + 'a'.repeat(MAX_HEADER_BYTES + 10) + ' SIP/2.0\r\n\r\n'), PARSE_INVALID, 'an endless Request-URI');
  t.equal(msg.reason, 'headers-too-long');
  t.equal(parse('X'.repeat(MAX_HEADER_BYTES + 1)), PARSE_INVALID, 'an endless method');
  t.equal(parse('X'.repeat(MAX_HEADER_BYTES - 1)), PARSE_INCOMPLETE);
});

t.test('offsets, ranges and reuse', async (t) => {
  const body = request();
  const buf = Buffer.from('garbage!' + body + 'trailing', 'latin1');
  t.equal(parseSip(buf, 8, 8 + body.length, msg, false), PARSE_OK);
  t.equal(msg.start, 8);
  t.equal(msg.end, 8 + body.length);
  t.equal(txt(msg.ruriStart, msg.ruriEnd), 'sip:alice@example.com');
  t.equal(msg.buf, buf);

  // Every field is overwritten: a keep-alive after a full request leaves nothing behind.
  parse(request('User-Agent: x\r\nAuthorization: Digest username="u"\r\n'));
  t.equal(msg.hasCredentials, true);
  parse('\r\n\r\n');
  const clean = new SipMessage();
  clean.buf = msg.buf;
  clean.kind = KIND_KEEPALIVE;
  clean.end = 4;
  const { headers: a, headerNames: an, ...restA } = msg;
  const { headers: b, headerNames: bn, ...restB } = clean;
  t.same(restA, restB, 'same fields as a fresh SipMessage');
  t.equal(a.length, b.length);
  t.equal(an.length, bn.length);

  for (const [s, e] of [[-1, 4], [0, 1e9], [5, 4], [0.5, 4], [NaN, 4], [0, Infinity]]) {
    t.equal(parseSip(buf, s!, e!, msg), PARSE_INVALID, `${s}, ${e}`);
    t.equal(msg.reason, 'bad-range');
  }
});

t.test('toHasTag: a tag parameter after the To address (RFC 3261 §12.2.1.1), nowhere else', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['To: <sip:alice@example.com>', false],
    ['To: <sip:alice@example.com>;tag=a6c85cf', true],
    ['To: "Alice" <sip:alice@example.com>;TAG=x', true],
    // LWS is allowed there by §25.1, but chan_sip finds a tag by the bytes ";tag=" (gettag):
    // a request is in a dialog for the call limit only if every PBX reads it so.
    ['To: "Alice" <sip:alice@example.com> ; TAG = x', false],
    ['To: <sip:alice@example.com>;tag =x', false],
    ['To: <sip:alice@example.com>; tag=x', false],
    ['To: <sip:alice@example.com>\r\n ;tag=x', false],
    ['To: <sip:alice@example.com>;x=1\x00;tag=x', false],
    ['t: <sip:alice@example.com>;tag=1', true],
    ['To: <sip:alice@example.com;tag=inside-uri>', false],
    ['To: "a;tag=1" <sip:alice@example.com>', false],
    ['To: Alice <sip:alice@example.com>;foo=1;tag=2', true],
    ['To: <sip:alice@example.com>;tagx=1', false],
    ['To: sip:alice@example.com;tag=88', true],
    ['To: sip:alice@example.com', false],
  ];
  for (const [line, tagged] of cases) {
    t.equal(parse(`INVITE sip:alice@example.com SIP/2.0\r\n${line}\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n`), PARSE_OK, line);
    t.equal(msg.toHasTag, tagged, line);
  }
  t.equal(parse('INVITE sip:alice@example.com SIP/2.0\r\nCall-ID: c\r\n\r\n'), PARSE_OK);
  t.equal(msg.toHasTag, false, 'no To at all');
  t.equal(parse(`INVITE sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\n\r\n`), PARSE_OK);
  t.equal(msg.toHasTag, false, 'the first To counts');
});
