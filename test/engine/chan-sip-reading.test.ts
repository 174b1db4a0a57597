// Requests Asterisk's chan_sip (still run by many FreePBX installs) reads
// differently from sipwall, each a way past a rule or a miscount until
// sipwall refused them or read them as chan_sip does (a review against
// channels/chan_sip.c and channels/sip/reqresp_parser.c, Asterisk 16-20).

import t from 'tap';
import { REASON_NAMES } from '../../src/engine/reasons.js';
import { VERDICT_DROP } from '../../src/engine/verdicts.js';
import { TCP_FLAG_ACK, TCP_FLAG_PSH } from '../../src/packet/build-packet.js';
import { PARSE_INVALID, PARSE_OK } from '../../src/sip/constants.js';
import { parseSip } from '../../src/sip/parse-sip.js';
import { SipMessage } from '../../src/sip/sip-message.js';
import { configWith, engineFor, Judge } from '../helpers/engine-fixtures.js';

const SRC = '198.51.100.7';
const DATA = TCP_FLAG_ACK | TCP_FLAG_PSH;
const why = (d: { reason: number; ruleId: string }): string => d.ruleId || REASON_NAMES[d.reason]!;
const judge = (over: Record<string, unknown> = {}): Judge => new Judge(engineFor(configWith(over)));
const msg = new SipMessage();
const parse = (text: string, stream = false): number => {
  const b = Buffer.from(text, 'latin1');
  return parseSip(b, 0, b.length, msg, stream);
};

/** A request as a softphone sends it; `o` replaces lines or adds some before Content-Length. */
function req(method: string, ruri: string, o: { to?: string; callId?: string; cseq?: string; extra?: string; cl?: string; body?: string } = {}): string {
  const body = o.body ?? '';
  return [
    `${method} ${ruri} SIP/2.0`,
    'Via: SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bK-cs1',
    'Max-Forwards: 70',
    'From: <sip:200@203.0.113.10>;tag=f1',
    `To: ${o.to ?? '<sip:100@203.0.113.10>'}`,
    `Call-ID: ${o.callId ?? 'cs1@198.51.100.7'}`,
    `CSeq: ${o.cseq ?? `1 ${method}`}`,
    ...(o.extra !== undefined ? [o.extra] : []),
    o.cl ?? `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ].join('\r\n');
}
const tollInvite = req('INVITE', 'sip:0046701234567@203.0.113.10', { callId: 'hidden@x' });

t.test('TCP: messages chan_sip frames elsewhere than sipwall are refused, and the connection dropped', async (t) => {
  // check_message_integrity() ends the headers at the first "\r\n\r\n": after "0\n\r\n" it reads on
  // into the next message's headers, takes their Content-Length 0 from this one, and runs the body.
  const bareLf = req('OPTIONS', 'sip:100@203.0.113.10').replace('Content-Length: 0\r\n\r\n', 'Content-Length: 0\n\r\n');
  const carrier = req('OPTIONS', 'sip:100@203.0.113.10', { callId: 'c2', body: tollInvite });
  t.equal(parse(bareLf + carrier, true), PARSE_INVALID, 'a line ended by a bare LF on a stream');
  t.equal(msg.reason, 'bad-line-end');
  let j = judge();
  t.equal(j.tcp(SRC, 40100, 1, DATA, bareLf + carrier, 0).verdict, VERDICT_DROP, 'dropped: the INVITE in the body never reaches the PBX');
  for (const [what, text] of [
    ['the request line', req('OPTIONS', 'sip:100@203.0.113.10').replace(' SIP/2.0\r\n', ' SIP/2.0\n')],
    ['a folded header', req('OPTIONS', 'sip:100@203.0.113.10', { extra: 'Subject: a\n b' })],
  ] as const) {
    t.equal(parse(text, true), PARSE_INVALID, `bare LF ending ${what}`);
    t.equal(msg.reason, 'bad-line-end');
    t.equal(parse(text, false), PARSE_OK, `still read in a datagram (${what})`);
  }

  // read_raw_content_length() looks for "\nContent-Length:" or "\nl:": with a space before the
  // colon it finds none, and the bytes it has are the whole message; the next segment, our body, its next request.
  const spaced = req('OPTIONS', 'sip:100@203.0.113.10', { cl: `Content-Length : ${tollInvite.length}` });
  t.equal(parse(spaced, true), PARSE_INVALID);
  t.equal(msg.reason, 'bad-content-length');
  t.equal(parse(req('OPTIONS', 'sip:100@203.0.113.10', { cl: 'l : 0' }), true), PARSE_INVALID, 'the compact form too');
  t.equal(parse(req('OPTIONS', 'sip:100@203.0.113.10', { cl: 'l: 0' }), true), PARSE_OK, '"l:" is fine');
  t.equal(parse(req('OPTIONS', 'sip:100@203.0.113.10', { cl: 'Content-Length : 0' }), false), PARSE_OK, 'and "Content-Length :" in a datagram (no framing at stake)');
  j = judge();
  t.equal(j.tcp(SRC, 40101, 1, DATA, spaced, 0).verdict, VERDICT_DROP);
  t.equal(why(j.tcp(SRC, 40101, 1 + spaced.length, DATA, tollInvite, 1)), 'flow-dropped', 'the next segment with it');

  // sip_tcptls_read() appends each read with "%s": what follows a NUL in that read is lost to chan_sip.
  const nulBody = req('OPTIONS', 'sip:100@203.0.113.10', { body: '\0' + 'x'.repeat(30) });
  j = judge();
  t.equal(j.tcp(SRC, 40102, 1, DATA, nulBody, 0).verdict, VERDICT_DROP, 'a NUL in a body on a stream');
  t.equal(why(j.tcp(SRC, 40102, 1 + nulBody.length, DATA, req('OPTIONS', 'sip:100@203.0.113.10', { callId: 'n2' }), 1)), 'flow-dropped');
  t.not(judge().udp(SRC, nulBody.replace('/TCP', '/UDP'), 0).verdict, VERDICT_DROP, 'in a datagram\'s body it is harmless: let through');
});

t.test('a Request-URI with < > " inside: refused, not read as user "x<sip"', async (t) => {
  // get_destination() dials what get_in_brackets() finds: 0046701234567.
  const j = judge();
  for (const ruri of ['sip:x<sip:0046701234567@203.0.113.10>', 'sip:<sip:0046701234567@203.0.113.10>', 'sip:0046701234567@203.0.113.10>', 'sip:"x"@203.0.113.10', 'sip:a{b}@203.0.113.10']) {
    t.equal(parse(req('INVITE', ruri)), PARSE_INVALID, ruri);
    t.equal(msg.reason, 'bad-request-uri');
    t.equal(why(j.udp(SRC, req('INVITE', ruri).replace('/TCP', '/UDP'), 0)), 'invalid-sip');
  }
  t.equal(parse(req('INVITE', 'sip:*97#@203.0.113.10')), PARSE_OK, 'feature codes still parse');
});

t.test('a Call-ID or CSeq chan_sip would answer with other bytes: refused, so no failure goes uncounted', async (t) => {
  // lws2sws() (pedantic, the default) turns "k1  x" and a fold into "k1 x"; the datagram copy ends at a NUL.
  for (const callId of ['k1  x', 'k1 x', 'k1\r\n x', 'k1\tx', 'n@x\0z', 'caf\xe9@x']) {
    t.equal(parse(req('REGISTER', 'sip:203.0.113.10', { callId })), PARSE_INVALID, JSON.stringify(callId));
    t.equal(msg.reason, 'bad-call-id');
  }
  t.equal(parse(req('REGISTER', 'sip:203.0.113.10', { callId: "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{" })), PARSE_OK, 'every visible byte is fine (RFC 4475 intmeth)');
  // Without pedantic checking chan_sip ends the line at a fold and answers "CSeq: 1".
  t.equal(parse(req('REGISTER', 'sip:203.0.113.10', { cseq: '1\r\n REGISTER' })), PARSE_INVALID);
  t.equal(msg.reason, 'bad-cseq');
  const j = judge();
  t.equal(why(j.udp(SRC, req('REGISTER', 'sip:203.0.113.10', { callId: 'k1  x', extra: 'Authorization: Digest username="100", response="0"' }).replace('/TCP', '/UDP'), 0)), 'invalid-sip', 'the guess never reaches the PBX');
});

t.test('From/To that chan_sip reads as another address: refused', async (t) => {
  // find_closing_quote() takes the '"' after an escaped backslash for an escaped quote and reads on.
  for (const to of ['"a\\\\" <sip:1000@203.0.113.10>;x=" <sip:1001@203.0.113.10>"', '"a\\\\" <sip:1000@203.0.113.10> " <sip:1001@203.0.113.10>', '<sip:1000@203.0.113.10> <sip:1001@203.0.113.10>', '<sip:1000@203.0.113.10> x']) {
    t.equal(parse(req('REGISTER', 'sip:203.0.113.10', { to })), PARSE_INVALID, to);
    t.equal(msg.reason, 'bad-to');
  }
  for (const to of ['"J Rosenberg \\\\\\"" <sip:1000@203.0.113.10>', '"a" <sip:1000@203.0.113.10> ;x=1', '<sip:1000@203.0.113.10>\r\n ;tag=1']) {
    t.equal(parse(req('REGISTER', 'sip:203.0.113.10', { to })), PARSE_OK, `still fine: ${JSON.stringify(to)}`);
  }
  // Only in a request being judged: a phone's answer carries the From the PBX wrote (chan_sip escapes a caller name "SMITH\" as "SMITH\\").
  const ringing = 'SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bK1\r\nFrom: "SMITH\\\\" <sip:+441234@203.0.113.10>;tag=1\r\nTo: <sip:100@203.0.113.10>;tag=2\r\nCall-ID: r1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n';
  t.equal(parse(ringing), PARSE_OK, 'a response with such a From still parses');
  t.not(judge().udp(SRC, ringing, 0).verdict, VERDICT_DROP, 'and passes');
  t.equal(parse(req('REGISTER', 'sip:203.0.113.10', { extra: 'Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.2>' })), PARSE_OK, 'a Contact list');
  t.equal(msg.buf.toString('latin1', msg.contactUserStart, msg.contactUserEnd), 'a');
});

t.test('a REGISTER to a To without a user counts the host as the user tried (chan_sip registers that peer)', async (t) => {
  const limit = configWith().distinctUsers.limit;
  for (const make of [(n: number) => `<sip:${1000 + n}>`, (n: number) => `<sip:@${1000 + n}>`]) {
    const j = judge();
    const got: string[] = [];
    for (let n = 0; n <= limit; n++) got.push(why(j.udp(SRC, req('REGISTER', 'sip:203.0.113.10', { to: make(n), callId: `u${n}` }).replace('/TCP', '/UDP'), n)));
    t.equal(got[limit], 'distinct-users', `${make(0)}: the ${limit + 1}th user is too many (${got.join(',')})`);
  }
});

t.test('a To tag chan_sip does not see does not make a new call pass for one in a dialog', async (t) => {
  // gettag() looks for the bytes ";tag=": with LWS, chan_sip starts a new call.
  const max = 2;
  for (const to of ['<sip:201@203.0.113.10>;tag =x', '<sip:201@203.0.113.10>; tag=x', '<sip:201@203.0.113.10>;tag= x']) {
    const j = judge({ tollFraud: { ...configWith().tollFraud, maxConcurrentCalls: max } });
    const got: string[] = [];
    for (let i = 0; i <= max; i++) got.push(why(j.udp(SRC, req('INVITE', 'sip:201@203.0.113.10', { to, callId: `call${i}` }).replace('/TCP', '/UDP'), i)));
    t.equal(got[max], 'call-limit', `${to}: counted as a new call (${got.join(',')})`);
  }
});

t.test('only a 2xx to a REGISTER that adds bindings is a login', async (t) => {
  const answer = (status: string, callId: string, method: string): string =>
    [`SIP/2.0 ${status}`, 'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-cs1', 'From: <sip:200@203.0.113.10>;tag=f1', 'To: <sip:100@203.0.113.10>;tag=as1', `Call-ID: ${callId}`, `CSeq: 1 ${method}`, 'Content-Length: 0', '', ''].join('\r\n');
  const creds = 'Authorization: Digest username="100", realm="asterisk", nonce="n", uri="sip:203.0.113.10", response="00000000000000000000000000000000"';
  const udp = (s: string): string => s.replace('/TCP', '/UDP');
  // unknownUsersBeforeAuth bans at the first 404 a source that never logged in.
  const cases: Array<[string, string, string]> = [
    ['an OPTIONS with credentials (chan_sip answers 200 without checking them)', 'OPTIONS', creds],
    ['a REGISTER with Expires: 0 (a retransmitted one gets 200 unchecked)', 'REGISTER', `${creds}\r\nExpires: 0`],
    ['a REGISTER with Contact: *', 'REGISTER', `${creds}\r\nContact: *`],
    ['a REGISTER with a Contact ;expires=0', 'REGISTER', `${creds}\r\nContact: <sip:100@198.51.100.7>;expires=0`],
  ];
  for (const [what, method, extra] of cases) {
    const j = judge();
    j.udp(SRC, udp(req(method, method === 'OPTIONS' ? 'sip:100@203.0.113.10' : 'sip:203.0.113.10', { callId: 'a1', extra })), 0);
    j.answer(SRC, answer('200 OK', 'a1', method), 5);
    j.udp(SRC, udp(req('OPTIONS', 'sip:555@203.0.113.10', { callId: 'a2' })), 10);
    t.ok(j.answer(SRC, answer('404 Not Found', 'a2', 'OPTIONS'), 15).ban, `${what}: no login, so the first 404 bans`);
  }
  const j = judge();
  j.udp(SRC, udp(req('REGISTER', 'sip:203.0.113.10', { callId: 'a1', extra: `${creds}\r\nContact: <sip:100@198.51.100.7>;expires=3600` })), 0);
  j.answer(SRC, answer('200 OK', 'a1', 'REGISTER'), 5);
  j.udp(SRC, udp(req('OPTIONS', 'sip:555@203.0.113.10', { callId: 'a2' })), 10);
  t.notOk(j.answer(SRC, answer('404 Not Found', 'a2', 'OPTIONS'), 15).ban, 'a real login: one 404 is not enough');
  // With trustAfterAuthSeconds, the retransmission trick must not buy trust (and a way past the toll rules).
  const k = judge({ answers: { ...configWith().answers, trustAfterAuthSeconds: 3600 } });
  k.udp(SRC, udp(req('REGISTER', 'sip:203.0.113.10', { callId: 'r1', extra: `${creds}\r\nExpires: 0` })), 0);
  t.not(why(k.answer(SRC, answer('200 OK', 'r1', 'REGISTER'), 5)), 'auth-trust');
  t.equal(why(k.udp(SRC, udp(tollInvite), 10)), 'toll-international', 'the toll rules still apply');
});

t.test('a REFER to a foreign number is toll fraud like an INVITE to it (chan_sip transfers by default)', async (t) => {
  const refer = (referTo: string): string =>
    req('REFER', 'sip:ivr@203.0.113.10', { to: '<sip:ivr@203.0.113.10>;tag=as1', extra: referTo }).replace('/TCP', '/UDP');
  t.equal(why(judge().udp(SRC, refer('Refer-To: <sip:0046701234567@203.0.113.10>'), 0)), 'toll-international');
  t.equal(why(judge().udp(SRC, refer('r: sip:%30046701234567@203.0.113.10'), 0)), 'toll-international', 'compact form, addr-spec, escaped');
  t.equal(why(judge().udp(SRC, refer('Refer-To: "x" <sip:0046701234567@203.0.113.10?Replaces=abc>'), 0)), 'toll-international', 'an attended transfer too');
  // Forms parseAddress refuses, which chan_sip's get_in_brackets still reads a number from.
  for (const v of ['<sip:0046701234567@203.0.113.10> x', '<sip:0046701234567@203.0.113.10>x', '"a\\" <sip:0046701234567@203.0.113.10>', 'x:y <sip:0046701234567@203.0.113.10>', '"a\\" <sip:101@203.0.113.10>;x=" <sip:0046701234567@203.0.113.10>"']) {
    t.equal(why(judge().udp(SRC, refer(`Refer-To: ${v}`), 0)), 'toll-international', `refused, and read all the same: ${v}`);
  }
  t.equal(why(judge().udp(SRC, refer('Refer-To: <sip:101@203.0.113.10>'), 0)), 'ok', 'to an extension: fine');
  t.equal(why(judge({ tollFraud: { ...configWith().tollFraud, enabled: false } }).udp(SRC, refer('Refer-To: <sip:0046701234567@203.0.113.10>'), 0)), 'ok', 'tollFraud off: not judged');
});
