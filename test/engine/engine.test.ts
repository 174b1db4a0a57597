import t from 'tap';
import {
  R_BANNED, R_BLOCKED, R_INVALID_SIP, R_KEEPALIVE, R_NON_SIP, R_OK, R_RATE_REGISTER, R_RESPONSE, R_SCANNER_UA,
  R_SECRET_HOST, R_STUN, R_TRUSTED, R_TRUSTED_LIST,
} from '../../src/engine/reasons.js';
import { VERDICT_ACCEPT, VERDICT_ACCEPT_TRUST, VERDICT_ACCEPT_WATCH, VERDICT_DROP } from '../../src/engine/verdicts.js';
import { FINGERPRINT_FIELDS } from '../../src/rules/config-types.js';
import { configWith, engineFor, Judge, samples, SECRET } from '../helpers/engine-fixtures.js';

const scanner = samples('friendly-scanner')[0]!.data;
const phoneToSecret = samples('_legit').find((s) => s.name.includes('secret'))!.data;
const phone = samples('_legit').find((s) => s.name.includes('baresip'))!.data;
const register = samples('rate-register')[0]!.data;
const judge = (over: Record<string, unknown> = {}): Judge => new Judge(engineFor(configWith({ secretHosts: [SECRET], ...over })));

t.test('order: blocked list beats trust, ban beats trust, trusted list beats scanner UA', async (t) => {
  const j = judge({ blocked: ['198.51.100.0/24'], trusted: ['198.51.100.7', '2001:db8:1::/48'] });
  t.equal(j.udp('198.51.100.7', phoneToSecret, 0).reason, R_BLOCKED, 'blocked even though trusted and naming the secret host');
  t.equal(j.udp('2001:db8:1::5', scanner, 0).reason, R_TRUSTED_LIST, 'the trusted list accepts even a scanner UA');
  t.equal(j.d.verdict, VERDICT_ACCEPT_TRUST);
  const k = judge();
  t.equal(k.udp('192.0.2.50', scanner, 0).reason, R_SCANNER_UA);
  t.equal(k.udp('192.0.2.50', phoneToSecret, 1).reason, R_BANNED, 'a banned source cannot buy trust with the secret host');
});

t.test('a source that names the secret host is trusted, and stays trusted until trustSeconds pass', async (t) => {
  const j = judge({ trustSeconds: 60 });
  const d = j.udp('192.0.2.60', phoneToSecret, 1000);
  t.equal(d.reason, R_SECRET_HOST);
  t.equal(d.verdict, VERDICT_ACCEPT_TRUST);
  t.ok(d.trust);
  t.equal(d.trustUntil, 61_000);
  t.equal(j.udp('192.0.2.60', phone, 2000).reason, R_TRUSTED, 'later requests without the secret host are trusted');
  t.equal(j.udp('192.0.2.60', phone, 61_000).reason, R_OK, 'trust expires');
});

t.test('ban expiry and escalation follow injected time', async (t) => {
  const j = judge({ bans: { baseSeconds: 100, factor: 4, maxSeconds: 1000, forgetAfterSeconds: 500 } });
  const src = '192.0.2.70';
  let d = j.udp(src, scanner, 0);
  t.equal(d.banSeconds, 100, 'first ban: base');
  t.equal(j.udp(src, phone, 99_999).reason, R_BANNED, 'still banned just before expiry');
  t.equal(j.udp(src, phone, 100_000).reason, R_OK, 'free at expiry');
  d = j.udp(src, scanner, 200_000);
  t.equal(d.banSeconds, 400, 'second ban within the memory window: x4');
  d = j.udp(src, scanner, 700_000);
  t.equal(d.banSeconds, 1000, 'third: capped at maxSeconds');
  d = j.udp(src, scanner, 700_000 + 1000_000 + 500_000 + 1);
  t.equal(d.banSeconds, 100, 'after forgetAfterSeconds past the last ban, escalation starts over');
});

t.test('REGISTER rate limit: a sliding window, not a fixed one', async (t) => {
  const j = judge({ rateLimits: { register: { limit: 10, windowSeconds: 10 } } });
  const src = '192.0.2.80';
  // 10 requests in the last second of one window...
  for (let i = 0; i < 10; i++) t.equal(j.udp(src, register, 9_000 + i).verdict, VERDICT_ACCEPT);
  // ...and the first moment of the next: the previous window still weighs ~90%.
  const d = j.udp(src, register, 10_001);
  t.equal(d.reason, R_RATE_REGISTER, 'a burst straddling the window edge is caught');
  t.ok(d.ban);
  const k = judge({ rateLimits: { register: { limit: 10, windowSeconds: 10 } } });
  for (let i = 0; i < 30; i++) t.equal(k.udp('192.0.2.81', register, i * 1_250).verdict, VERDICT_ACCEPT, `steady ${i}: under the rate`);
});

t.test('IPv6 sources share state per /64 by default', async (t) => {
  const j = judge();
  t.equal(j.udp('2001:db8:5:6::1', scanner, 0).reason, R_SCANNER_UA);
  t.equal(j.udp('2001:db8:5:6:ffff::99', phone, 1).reason, R_BANNED, 'another address in the same /64 is banned');
  t.equal(j.udp('2001:db8:5:7::1', phone, 1).reason, R_OK, 'the neighbouring /64 is not');
  const k = judge({ ipv6PrefixLength: 128 });
  k.udp('2001:db8:5:6::1', scanner, 0);
  t.equal(k.udp('2001:db8:5:6::2', phone, 1).reason, R_OK, 'with /128 tracking, per address');
});

t.test('per-source state is bounded: a million-source flood is capped by maxTrackedSources', async (t) => {
  const j = judge({ maxTrackedSources: 1024 });
  for (let i = 0; i < 20_000; i++) j.udp(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, register, i);
  t.equal(j.engine.rates.size, 1024);
  t.equal(j.engine.rates.evictions, 20_000 - 1024);
  t.equal(j.udp('10.0.0.1', register, 30_000).verdict, VERDICT_ACCEPT, 'an evicted source starts afresh');
});

t.test('payload classes: keep-alives, STUN, responses, non-SIP and malformed SIP', async (t) => {
  const j = judge();
  t.equal(j.udp('192.0.2.90', '\r\n\r\n', 0).reason, R_KEEPALIVE);
  t.equal(j.d.verdict, VERDICT_ACCEPT);
  const stun = Buffer.alloc(20);
  stun.writeUInt16BE(0x0001, 0);
  stun.writeUInt32BE(0x2112a442, 4);
  t.equal(j.udp('192.0.2.90', stun, 0).reason, R_STUN);
  t.equal(j.d.verdict, VERDICT_ACCEPT);
  t.equal(j.udp('192.0.2.90', 'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n', 0).reason, R_RESPONSE);
  t.equal(j.udp('192.0.2.90', Buffer.from([0x80, 0x00, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8]), 0).reason, R_NON_SIP, 'RTP on a SIP port');
  t.equal(j.d.verdict, VERDICT_DROP);
  t.equal(j.udp('192.0.2.90', 'REGISTER sip:x SIP/2.0\r\nVia SIP/2.0/UDP nowhere\r\n\r\n', 0).reason, R_INVALID_SIP);
  t.equal(j.d.verdict, VERDICT_DROP);
  const lax = judge({ policy: { nonSip: 'accept', invalidSip: 'accept', stun: 'drop' } });
  t.equal(lax.udp('192.0.2.91', Buffer.from([0x80, 0, 1, 2, 3, 4, 5, 6]), 0).verdict, VERDICT_ACCEPT, 'policy nonSip: accept');
  t.equal(lax.udp('192.0.2.91', stun, 0).verdict, VERDICT_DROP, 'policy stun: drop');
  t.notOk(j.d.ban, 'malformed input is dropped, not banned');
});

t.test('keep-alives before a request do not make it trailing bytes', async (t) => {
  // pjsip strips leading CR/LF from a datagram and parses the rest, skipping
  // blanks and reading TABs as separators: what follows a keep-alive is the
  // datagram's message, judged as if it came first.
  const j = judge();
  const text = scanner.toString('latin1');
  t.equal(j.udp('192.0.2.95', '\r\n' + text, 0).reason, R_SCANNER_UA, 'a whole request after a keep-alive is judged');
  t.equal(j.d.verdict, VERDICT_DROP);
  t.equal(j.udp('192.0.2.96', '\r\n ' + text, 0).reason, R_NON_SIP, 'a blank before the method: not SIP to us, dropped');
  t.equal(j.d.verdict, VERDICT_DROP);
  const tabs = text.replace(/^(\S+) (\S+) /, '$1\t$2\t');
  t.equal(j.udp('192.0.2.97', '\r\n' + tabs, 0).verdict, VERDICT_DROP, 'TABs on the request line after a keep-alive');
  t.equal(j.udp('192.0.2.97', '\r\n\r\n' + tabs, 0).verdict, VERDICT_DROP, 'after a ping');
  t.equal(j.udp('192.0.2.98', '\r\n\r\n', 0).verdict, VERDICT_ACCEPT, 'a keep-alive alone is still accepted');
  // After a whole message, bytes that are not SIP are what RFC 3261 §18.3 has the receiver discard.
  t.equal(j.udp('192.0.2.99', Buffer.concat([register, Buffer.from('\0\0junk')]), 0).verdict, VERDICT_ACCEPT);
});

t.test('reload keeps bans, trust and counters', async (t) => {
  const j = judge({ rateLimits: { register: { limit: 3, windowSeconds: 60 } } });
  j.udp('192.0.2.100', scanner, 0);
  j.udp('192.0.2.101', phoneToSecret, 0);
  for (let i = 0; i < 3; i++) j.udp('192.0.2.102', register, i);
  const { compileRules } = await import('../../src/rules/compile-rules.js');
  j.engine.setRules(compileRules(configWith({ secretHosts: [SECRET], rateLimits: { register: { limit: 3, windowSeconds: 60 } }, userAgents: {} })));
  t.equal(j.udp('192.0.2.100', phone, 10).reason, R_BANNED, 'ban survives');
  t.equal(j.udp('192.0.2.101', phone, 10).reason, R_TRUSTED, 'trust survives');
  t.equal(j.udp('192.0.2.102', register, 10).reason, R_RATE_REGISTER, 'counters survive');
});

t.test('a request whose answers must be read asks for its connection to be watched', async (t) => {
  const sample = (dir: string, name: string): Buffer => samples(dir).find((s) => s.name === name)!.data;
  const withCreds = sample('auth-failures', '1-request-register-credentials.sip');
  const register = sample('_legit', 'eyebeam-register.sip');
  const invite = sample('_legit', 'yealink-invite.sip');
  const j = new Judge(engineFor(configWith()));
  t.equal(j.udp('192.0.2.61', withCreds, 0).verdict, VERDICT_ACCEPT_WATCH, 'credentials: a 401 or 200 to it says whether the password was right');
  t.equal(j.udp('192.0.2.62', register, 0).verdict, VERDICT_ACCEPT, 'no credentials: its 401 is only the challenge, not read');
  t.equal(j.udp('192.0.2.63', invite, 0).verdict, VERDICT_ACCEPT_WATCH, 'an INVITE: its final answer ends the call');
  const off = new Judge(engineFor(configWith({ answers: { ...configWith().answers, watch: false } })));
  t.equal(off.udp('192.0.2.61', withCreds, 0).verdict, VERDICT_ACCEPT, 'answers not watched: a plain accept');
  // Two messages in one datagram: the verdict is the strongest of them.
  const both = Buffer.concat([register, withCreds]);
  t.equal(new Judge(engineFor(configWith())).udp('192.0.2.64', both, 0).verdict, VERDICT_ACCEPT_WATCH, 'a watched message after a plain one keeps the watch');
  t.equal(new Judge(engineFor(configWith())).udp('192.0.2.65', Buffer.concat([withCreds, register]), 0).verdict, VERDICT_ACCEPT_WATCH, 'and a plain one after it does not undo it');
});

t.test('a fingerprint can look at every field it names', async (t) => {
  const msg = [
    'REGISTER sip:pbx.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.71:5060;branch=z9hG4bK-fp1',
    'From: "Desk Phone" <sip:2001@from.example.com>;tag=f1',
    'To: <sip:2002@to.example.com>',
    'Contact: <sip:2001@contact.example.com:5062>',
    'Call-ID: fp-call-id-1',
    'CSeq: 1 REGISTER',
    'User-Agent: DeskPhone 1.0',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const values: Record<string, string> = {
    requestUri: 'sip:pbx.example.com',
    from: '"Desk Phone" <sip:2001@from.example.com>;tag=f1',
    fromName: 'Desk Phone',
    fromUser: '2001',
    fromHost: 'from.example.com',
    to: '<sip:2002@to.example.com>',
    toUser: '2002',
    toHost: 'to.example.com',
    contactHost: 'contact.example.com',
    userAgent: 'DeskPhone 1.0',
    callId: 'fp-call-id-1',
  };
  t.same(Object.keys(values).sort(), [...FINGERPRINT_FIELDS].sort(), 'every field is covered here');
  // Padding headers before the fields: the parser lists only the first 64 headers, and no field may hide past them.
  const padding = Array.from({ length: 70 }, (_, i) => `X-Pad-${i}: 1`).join('\r\n');
  const padded = msg.replace('\r\nFrom:', `\r\n${padding}\r\nFrom:`);
  for (const field of FINGERPRINT_FIELDS) {
    const hit = judge({ fingerprints: { probe: { field, equals: values[field], note: 'test' } } }).udp('192.0.2.71', msg, 0);
    t.equal(hit.ruleId, 'probe', `${field} equals ${JSON.stringify(values[field])}`);
    const deep = judge({ fingerprints: { probe: { field, equals: values[field], note: 'test' } } }).udp('192.0.2.73', padded, 0);
    t.equal(deep.ruleId, 'probe', `${field} after 70 other headers`);
    // Another field's value must not match this one: the field really chose the range.
    const other = FINGERPRINT_FIELDS[(FINGERPRINT_FIELDS.indexOf(field) + 1) % FINGERPRINT_FIELDS.length]!;
    const miss = judge({ fingerprints: { probe: { field, equals: values[other], note: 'test' } } }).udp('192.0.2.72', msg, 0);
    t.not(miss.ruleId, 'probe', `${field} does not equal the value of ${other}`);
  }
});
