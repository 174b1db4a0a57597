// An answer must find its request however the PBX prints it back: pjsip and
// sofia-sip print their answers' Via anew from what they parsed, so the
// transaction is named by Call-ID and CSeq only (Engine.transaction), and a
// request with two of either is refused. Each case here let a brute-forcer's
// failures go uncounted before (a review against pjsip and sofia-sip).

import t from 'tap';
import { REASON_NAMES } from '../../src/engine/reasons.js';
import { VERDICT_DROP } from '../../src/engine/verdicts.js';
import { configWith, engineFor, Judge } from '../helpers/engine-fixtures.js';

const SRC = '198.51.100.7';
const request = (via: string, opts: { creds?: boolean; cseq?: string[]; callId?: string } = {}): string =>
  [
    'REGISTER sip:203.0.113.10 SIP/2.0',
    via,
    'Max-Forwards: 70',
    'To: "1000" <sip:1000@203.0.113.10>',
    'From: "1000" <sip:1000@203.0.113.10>;tag=3130',
    `Call-ID: ${opts.callId ?? '2201763015@198.51.100.7'}`,
    ...(opts.cseq ?? ['CSeq: 1 REGISTER']),
    'Contact: <sip:1000@198.51.100.7:5061>',
    ...(opts.creds === true ? ['Authorization: Digest username="1000", realm="pbx", nonce="abc", uri="sip:203.0.113.10", response="0c2f8a3d6a1f7a9c7d1e0b3a2f4e5d6c"'] : []),
    'User-Agent: Zoiper rv2.10.20.3',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
const answer = (status: string, via: string, cseq = 'CSeq: 1 REGISTER'): string =>
  [`SIP/2.0 ${status}`, via, 'From: "1000" <sip:1000@203.0.113.10>;tag=3130', 'To: "1000" <sip:1000@203.0.113.10>;tag=as1', 'Call-ID: 2201763015@198.51.100.7', cseq, 'Server: Asterisk PBX 20', 'Content-Length: 0', '', ''].join('\r\n');
const via = (params: string): string => `Via: SIP/2.0/UDP 198.51.100.7:5061;${params}`;
/** pjsip_via_hdr_print's order: rport, received, then the branch it kept. */
const pjVia = (branch: string): string => `Via: SIP/2.0/UDP 198.51.100.7:5061;rport=5061;received=198.51.100.7;branch=${branch}`;

// [what, request's top Via, the Via of the PBX's answer]
const CASES: Array<[string, string, string]> = [
  ['two branches (pjsip keeps the last)', via('branch=z9hG4bK-a;branch=z9hG4bK-b;rport'), pjVia('z9hG4bK-b')],
  ['an empty first branch', via('branch=;branch=z9hG4bK-b;rport'), pjVia('z9hG4bK-b')],
  ['an escaped branch (pjsip unescapes %2D)', via('branch=z9hG4bK%2Dabc;rport'), pjVia('z9hG4bK-abc')],
  ['a bracketed branch (pjsip strips [ ])', via('branch=[z9hG4bKabc];rport'), pjVia('z9hG4bKabc')],
  ['a quoted branch (pjsip escapes the quotes)', via('branch="z9hG4bKabc";rport'), pjVia('%22z9hG4bKabc%22')],
  ['an empty Via element first (sofia-sip skips it)', 'Via: , SIP/2.0/UDP evil.example:5061;branch=z9hG4bK-uu01;rport', 'Via: SIP/2.0/UDP evil.example:5061;branch=z9hG4bK-uu01;rport;received=198.51.100.7'],
];

t.test('a 404 counts however the PBX prints the Via back (unknownUsersBeforeAuth: the first one bans)', async (t) => {
  for (const [what, reqVia, ansVia] of CASES) {
    const j = new Judge(engineFor(configWith()));
    t.not(j.udp(SRC, request(reqVia), 1000).verdict, VERDICT_DROP, `${what}: the request is let through`);
    const d = j.answer(SRC, answer('404 Not Found', ansVia), 1005);
    t.ok(d.ban, `${what}: its 404 counts (got ${REASON_NAMES[d.reason]})`);
  }
});

t.test('a 401 to credentials counts as a failed guess, same cases', async (t) => {
  for (const [what, reqVia, ansVia] of CASES) {
    const j = new Judge(engineFor(configWith({ answers: { ...configWith().answers, authFailures: [{ limit: 1, windowSeconds: 60 }] } })));
    j.udp(SRC, request(reqVia, { creds: true }), 1000);
    t.ok(j.answer(SRC, answer('401 Unauthorized', ansVia), 1005).ban, `${what}: counted`);
  }
});

t.test('a copy without credentials does not turn a failed guess into a challenge', async (t) => {
  const j = new Judge(engineFor(configWith({ answers: { ...configWith().answers, authFailures: [{ limit: 1, windowSeconds: 60 }] } })));
  // Same Call-ID and CSeq, another branch: the same transaction to sipwall now.
  j.udp(SRC, request(via('branch=z9hG4bK-guess;rport'), { creds: true }), 1000);
  j.udp(SRC, request(via('branch=z9hG4bK-copy;rport')), 1001);
  t.ok(j.answer(SRC, answer('401 Unauthorized', pjVia('z9hG4bK-guess')), 1005).ban, 'the 401 is a failed guess still');
});

t.test('two CSeq or Call-ID headers: refused (pjsip answers with the last CSeq)', async (t) => {
  const j = new Judge(engineFor(configWith()));
  const d = j.udp(SRC, request(via('branch=z9hG4bK-c;rport'), { cseq: ['CSeq: 1 REGISTER', 'CSeq: 2 REGISTER'] }), 1000);
  t.equal(d.verdict, VERDICT_DROP);
  t.equal(REASON_NAMES[d.reason], 'invalid-sip');
  const e = j.udp('198.51.100.8', request(via('branch=z9hG4bK-d;rport'), { callId: 'a@x\r\ni: b@x' }), 1000);
  t.equal(REASON_NAMES[e.reason], 'invalid-sip', 'a second Call-ID');
});
