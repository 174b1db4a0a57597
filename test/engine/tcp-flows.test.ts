// SIP over TCP through the engine: segments, not messages.

import t from 'tap';
import { R_FLOW_DROPPED, R_KEEPALIVE, R_NON_SIP, R_OK, R_PARTIAL, R_RATE_REGISTER, R_RETRANSMIT, R_SCANNER_UA, R_TCP_FLAGS, R_TCP_GAP, R_TCP_OLD, R_TCP_OVERLAP, R_TLS } from '../../src/engine/reasons.js';
import { VERDICT_ACCEPT, VERDICT_DROP } from '../../src/engine/verdicts.js';
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN } from '../../src/packet/build-packet.js';

const TCP_FLAG_URG = 0x20;
import { Engine } from '../../src/engine/engine.js';
import { TcpFlows } from '../../src/engine/tcp-flows.js';
import { configWith, engineFor, Judge, samples, SECRET } from '../helpers/engine-fixtures.js';

const DATA = TCP_FLAG_ACK | TCP_FLAG_PSH;
const scannerRegister = samples('friendly-scanner').find((s) => s.name.includes('register'))!.data;
const register = samples('rate-register')[0]!.data;
const judge = (over: Record<string, unknown> = {}): Judge => new Judge(engineFor(configWith({ secretHosts: [SECRET], ...over })));

t.test('a scanner User-Agent in the second segment of a split REGISTER is caught, and the flow stays dropped', async (t) => {
  const j = judge();
  const cut = scannerRegister.indexOf('User-Agent') + 5; // split inside the header name
  const isn = 1000;
  t.equal(j.tcp('192.0.2.1', 40000, isn, TCP_FLAG_SYN, '', 0).verdict, VERDICT_ACCEPT, 'handshake passes');
  let d = j.tcp('192.0.2.1', 40000, isn + 1, DATA, scannerRegister.subarray(0, cut), 1);
  t.equal(d.verdict, VERDICT_ACCEPT);
  t.equal(d.reason, R_PARTIAL, 'first segment holds only part of the header: held, not judged');
  d = j.tcp('192.0.2.1', 40000, isn + 1 + cut, DATA, scannerRegister.subarray(cut), 2);
  t.equal(d.verdict, VERDICT_DROP);
  t.equal(d.reason, R_SCANNER_UA);
  t.ok(d.ban, 'and the source is banned');
  // A new connection from the banned source is dropped as banned; the old flow's later segments as flow-dropped.
  const k = judge();
  k.tcp('192.0.2.2', 40001, 1, DATA, scannerRegister.subarray(0, cut), 0);
  k.tcp('192.0.2.2', 40001, 1 + cut, DATA, scannerRegister.subarray(cut), 1);
  k.engine.bans.unban(k.d.source, 2);
  t.equal(k.tcp('192.0.2.2', 40001, 1 + scannerRegister.length, DATA, register, 3).reason, R_FLOW_DROPPED, 'the dropped flow stays dropped even after an unban');
});

t.test('works without seeing the handshake (a flow starts at its first data)', async (t) => {
  const j = judge();
  const cut = 40;
  t.equal(j.tcp('192.0.2.3', 40002, 77, DATA, scannerRegister.subarray(0, cut), 0).reason, R_PARTIAL);
  t.equal(j.tcp('192.0.2.3', 40002, 77 + cut, DATA, scannerRegister.subarray(cut), 1).reason, R_SCANNER_UA);
});

t.test('two REGISTERs in one segment are both counted for the rate limit', async (t) => {
  const j = judge({ rateLimits: { register: { limit: 3, windowSeconds: 60 } } });
  const two = Buffer.concat([register, register]);
  let seq = 1;
  let d = j.tcp('192.0.2.4', 40003, seq, DATA, two, 0);
  t.equal(d.verdict, VERDICT_ACCEPT);
  t.equal(d.messages, 2, 'both messages evaluated');
  seq += two.length;
  d = j.tcp('192.0.2.4', 40003, seq, DATA, two, 1);
  t.equal(d.messages, 2);
  t.equal(d.reason, R_RATE_REGISTER, 'the 4th REGISTER (second in this segment) exceeds a limit of 3');
});

t.test('a message with a body split across segments: the body passes, the next message is judged', async (t) => {
  const j = judge();
  const invite = samples('rate-invite')[0]!.data;
  const bodyAt = invite.indexOf('\r\n\r\n') + 4 + 10;
  let seq = 500;
  t.equal(j.tcp('192.0.2.5', 40004, seq, DATA, invite.subarray(0, bodyAt), 0).reason, R_OK, 'headers complete: judged at once');
  seq += bodyAt;
  const rest = Buffer.concat([invite.subarray(bodyAt), scannerRegister]);
  t.equal(j.tcp('192.0.2.5', 40004, seq, DATA, rest, 1).reason, R_SCANNER_UA, 'the rest of the body is skipped and the next message caught');
});

t.test('gaps are dropped for in-order retransmission; retransmissions of accepted bytes pass', async (t) => {
  const j = judge();
  t.equal(j.tcp('192.0.2.6', 40005, 1, DATA, register, 0).reason, R_OK);
  t.equal(j.tcp('192.0.2.6', 40005, 1 + register.length + 100, DATA, register, 1).reason, R_TCP_GAP);
  t.equal(j.d.verdict, VERDICT_DROP);
  t.notOk(j.d.ban, 'a gap is not an offence');
  t.equal(j.tcp('192.0.2.6', 40005, 1, DATA, register, 2).reason, R_RETRANSMIT);
  t.equal(j.tcp('192.0.2.6', 40005, 1 + register.length, DATA, register, 3).reason, R_OK, 'in-order data continues');
});

t.test('bytes sent again must be the bytes judged (insertion: the kernel may discard what we saw)', async (t) => {
  // A harmless segment the kernel would throw away (bad checksum, stale timestamp), then the attack at the same sequence numbers.
  const j = judge();
  t.equal(j.tcp('192.0.2.8', 40007, 1000, DATA, register, 0).reason, R_OK, 'a legit REGISTER');
  let d = j.tcp('192.0.2.8', 40007, 1000, DATA, scannerRegister, 1);
  t.equal(d.reason, R_TCP_OVERLAP, 'other bytes at the same sequence numbers');
  t.equal(d.verdict, VERDICT_DROP);
  t.equal(j.tcp('192.0.2.8', 40007, 1000, DATA, scannerRegister, 2).reason, R_TCP_OVERLAP, 'again: dropped again, so the kernel reads only the judged bytes there or none');
  t.equal(j.tcp('192.0.2.8', 40007, 1000, DATA, register, 3).reason, R_RETRANSMIT, 'the judged bytes again: passed');
  t.equal(j.tcp('192.0.2.8', 40007, 1000 + register.length, DATA, scannerRegister, 4).reason, R_SCANNER_UA, 'the stream goes on and is judged');
  // A segment reaching back into judged bytes and beyond: the old part must match, the new part is judged.
  const k = judge();
  const cut = 100;
  t.equal(k.tcp('192.0.2.9', 40008, 1, DATA, register.subarray(0, cut), 0).reason, R_PARTIAL);
  d = k.tcp('192.0.2.9', 40008, 1 + 50, DATA, register.subarray(50), 1);
  t.equal(d.reason, R_OK, 'an overlap that repeats the same bytes, then the rest: judged');
  d = k.tcp('192.0.2.9', 40008, 1 + register.length - 10, DATA, Buffer.concat([register.subarray(register.length - 10), scannerRegister]), 2);
  t.equal(d.reason, R_SCANNER_UA, 'the new part after a matching overlap is judged');
  const m = judge();
  m.tcp('192.0.2.10', 40009, 1, DATA, register.subarray(0, cut), 0);
  const changed = Buffer.from(register.subarray(50));
  changed[10] = changed[10]! ^ 0x20;
  t.equal(m.tcp('192.0.2.10', 40009, 1 + 50, DATA, changed, 1).reason, R_TCP_OVERLAP, 'an overlap whose old part differs');
  // Older than what a flow keeps: dropped, not trusted.
  const o = judge({ rateLimits: { ...configWith().rateLimits, all: { limit: 1000, windowSeconds: 10 } } });
  let seq = 1;
  for (let i = 0; i < 8; i++) {
    t.equal(o.tcp('192.0.2.11', 40010, seq, DATA, register, 10 + i).verdict, VERDICT_ACCEPT);
    seq += register.length;
  }
  t.equal(o.tcp('192.0.2.11', 40010, 1, DATA, register, 20).reason, R_TCP_OLD, `bytes ${seq - 1} back: beyond the 2 KiB kept`);
  t.equal(o.tcp('192.0.2.11', 40010, seq - register.length, DATA, register, 21).reason, R_RETRANSMIT, 'the last segment again: compared and passed');
  t.equal(o.tcp('192.0.2.11', 40010, seq, DATA, register, 22).verdict, VERDICT_ACCEPT, 'and the stream goes on');
});

t.test('a header block that never ends is refused at the cap, not buffered forever', async (t) => {
  const j = judge();
  let seq = 1;
  let d = j.tcp('192.0.2.7', 40006, seq, DATA, 'REGISTER sip:x SIP/2.0\r\n', 0);
  seq += 24;
  let rounds = 0;
  const line = Buffer.from(`X-Filler: ${'a'.repeat(990)}\r\n`);
  while (d.verdict === VERDICT_ACCEPT && rounds < 100) {
    d = j.tcp('192.0.2.7', 40006, seq, DATA, line, rounds + 1);
    seq += line.length;
    rounds++;
  }
  t.equal(d.verdict, VERDICT_DROP, 'dropped once the header block passes the cap');
  t.ok(rounds <= 10, `within ${rounds} KiB`);
});

t.test('framing the PBXs read differently on a stream: refused, and the flow dropped (review against pjsip/Kamailio)', async (t) => {
  const options = (extra: string): string =>
    `OPTIONS sip:100@pbx.example.com SIP/2.0\r\nVia: SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bKf1\r\nFrom: <sip:200@pbx.example.com>;tag=1\r\nTo: <sip:100@pbx.example.com>\r\nCall-ID: f1\r\nCSeq: 1 OPTIONS\r\n${extra}`;
  const hidden = scannerRegister.toString('latin1');
  const carrier = options(`Content-Length: ${hidden.length}\r\n\r\n`) + hidden;
  const cases: Array<[string, string]> = [
    // pjsip_find_msg ends headers only at "\n\r\n": it reads the carrier's headers as the first message's, framed by its Content-Length: 0.
    ['a bare-LF blank line', options('Content-Length: 0\r\n\n') + carrier],
    // Without Content-Length pjsip waits, overflows and resumes PJSIP_MAX_PKT_LEN bytes on; Kamailio and sofia-sip drop the connection.
    ['no Content-Length', options('\r\n') + carrier],
    // Kamailio's TCP reader finds no length on a continuation line.
    ['Content-Length digits on a fold', options('Content-Length:\r\n 0\r\n\r\n') + carrier],
  ];
  for (const [name, stream] of cases) {
    const j = judge();
    const d = j.tcp('192.0.2.40', 40040, 1, DATA, Buffer.from(stream, 'latin1'), 0);
    t.equal(d.verdict, VERDICT_DROP, `${name}: dropped`);
    t.equal(j.tcp('192.0.2.40', 40040, 1 + stream.length, DATA, register, 1).reason, R_FLOW_DROPPED, `${name}: and the flow stays dropped`);
  }
});

t.test('bytes sipwall cannot frame, accepted by policy: that segment passes, the rest of the connection does not', async (t) => {
  for (const policy of [{ invalidSip: 'accept', nonSip: 'accept' }]) {
    const j = judge({ policy: { ...configWith().policy, ...policy } });
    // A CSeq that names another method: invalid SIP, but every PBX frames it and reads what follows.
    const bad = Buffer.from(register.toString('latin1').replace(/^CSeq: (\d+) REGISTER/m, 'CSeq: $1 INFO'), 'latin1');
    let seq = 1;
    const d = j.tcp('192.0.2.41', 40041, seq, DATA, bad, 0);
    t.equal(d.verdict, VERDICT_ACCEPT, 'the invalid message itself is accepted, as policy says');
    seq += bad.length;
    const next = j.tcp('192.0.2.41', 40041, seq, DATA, scannerRegister, 1);
    t.equal(next.verdict, VERDICT_DROP, 'what follows on that connection is not let through unjudged');
    t.equal(next.reason, R_FLOW_DROPPED);
    // Split: the first part held, the invalid rest accepted; later segments must not re-read the held bytes and pass.
    const k = judge({ policy: { ...configWith().policy, ...policy } });
    const cut = 60;
    t.equal(k.tcp('192.0.2.42', 40042, 1, DATA, bad.subarray(0, cut), 0).reason, R_PARTIAL);
    t.equal(k.tcp('192.0.2.42', 40042, 1 + cut, DATA, bad.subarray(cut), 1).verdict, VERDICT_ACCEPT);
    t.equal(k.tcp('192.0.2.42', 40042, 1 + bad.length, DATA, scannerRegister, 2).reason, R_FLOW_DROPPED, 'split: the same');
  }
});

t.test('TLS on a queued port: counted as tls, dropped by policy.nonSip, the connection with it', async (t) => {
  // The first record of a TLS 1.2/1.3 connection: handshake (22), legacy version 3.1, length, ClientHello (1).
  const hello = Buffer.concat([Buffer.from([22, 3, 1, 0, 64, 1, 0, 0, 60, 3, 3]), Buffer.alloc(58, 0x5a)]);
  const j = judge();
  const d = j.tcp('192.0.2.43', 40043, 1, DATA, hello, 0);
  t.equal(d.reason, R_TLS);
  t.equal(d.verdict, VERDICT_DROP);
  t.notOk(d.ban, 'a phone on the wrong port is not an attacker');
  t.equal(j.tcp('192.0.2.43', 40043, 1 + hello.length, DATA, Buffer.from([23, 3, 3, 0, 16, ...Buffer.alloc(16)]), 1).reason, R_FLOW_DROPPED);
  const mid = judge().tcp('192.0.2.44', 40044, 9, DATA, Buffer.from([23, 3, 3, 0, 16, ...Buffer.alloc(16)]), 0);
  t.equal(mid.reason, R_TLS, 'application data of a connection first seen mid-way: tls too');
  const lax = judge({ policy: { ...configWith().policy, nonSip: 'accept' } });
  t.equal(lax.tcp('192.0.2.45', 40045, 1, DATA, hello, 0).verdict, VERDICT_ACCEPT, 'policy.nonSip accept lets it through');
  t.equal(lax.d.reason, R_TLS);
  for (const notTls of [[22, 3, 9, 0, 1, 1], [22, 2, 1, 0, 1, 1], [24, 3, 1, 0, 1, 1], [22, 3, 1, 0]]) {
    t.equal(judge().tcp('192.0.2.46', 40046, 1, DATA, Buffer.from(notTls), 0).reason, R_NON_SIP, `not a TLS record: ${notTls.join(',')}`);
  }
  t.equal(judge().udp('192.0.2.47', hello, 0).reason, R_TLS, 'over UDP too');
});

t.test('an RST, FIN or SYN the kernel would discard does not restart a flow that holds part of a message', async (t) => {
  // The attacker sends a toll-fraud INVITE without its blank line, then a segment the kernel's TCP
  // throws away (RFC 5961: an RST or FIN not at the next expected byte, a SYN on an established
  // connection), then the blank line. The PBX reads one whole INVITE: so must we.
  const invite = Buffer.from(samples('toll-international').find((s) => s.name.includes('uk-00-prefix'))!.data.toString('latin1').replace(/\r\n\r\n[\s\S]*$/, '\r\nContent-Length: 0\r\n').replace(/Content-Length: \d+\r\nContent-Length: 0/, 'Content-Length: 0'), 'latin1');
  const cases: Array<[string, number, number]> = [
    ['RST far out of window', TCP_FLAG_RST, 1_000_000],
    ['RST in window, not exact', TCP_FLAG_RST | TCP_FLAG_ACK, 5],
    ['FIN out of order', TCP_FLAG_FIN | TCP_FLAG_ACK, 7],
    ['SYN in window', TCP_FLAG_SYN, 3],
  ];
  for (const [what, flags, offset] of cases) {
    const j = judge();
    t.equal(j.tcp('192.0.2.50', 40050, 1, DATA, invite, 0).reason, R_PARTIAL, `${what}: the headers are held`);
    t.equal(j.tcp('192.0.2.50', 40050, 1 + invite.length + offset, flags, '', 1).verdict, VERDICT_ACCEPT, `${what}: the payload-less segment passes`);
    const d = j.tcp('192.0.2.50', 40050, 1 + invite.length, DATA, '\r\n', 2);
    t.equal(d.verdict, VERDICT_DROP, `${what}: the blank line completes the INVITE, which is judged`);
    t.equal(d.ruleId, 'toll-international');
  }
  // A segment far from the stream (the kernel: out of window) does not restart it either.
  const k = judge();
  k.tcp('192.0.2.51', 40051, 1, DATA, invite, 0);
  t.equal(k.tcp('192.0.2.51', 40051, 1 + (1 << 21), DATA, '\r\n\r\n', 1).reason, R_TCP_GAP, 'a far segment mid-message is dropped, not a new start');
  t.equal(k.tcp('192.0.2.51', 40051, 1 + invite.length, DATA, '\r\n', 2).ruleId, 'toll-international');
});

t.test('where forgetting loses nothing, RST, FIN and SYN do end a flow: a dropped connection does not lock out the next', async (t) => {
  const j = judge();
  const hello = Buffer.from([22, 3, 1, 0, 5, 1, 0, 0, 1, 0]);
  t.equal(j.tcp('192.0.2.52', 5060, 1, DATA, hello, 0).reason, R_TLS, 'dropped at its first byte');
  t.equal(j.tcp('192.0.2.52', 5060, 1 + hello.length, TCP_FLAG_RST, '', 1).verdict, VERDICT_ACCEPT, 'its RST passes (the PBX should see the peer leave)');
  t.equal(j.tcp('192.0.2.52', 5060, 90_000, TCP_FLAG_SYN, '', 2).verdict, VERDICT_ACCEPT, 'a new connection from the same port');
  t.equal(j.tcp('192.0.2.52', 5060, 90_001, DATA, register, 3).reason, R_OK, 'is judged afresh');
  // Without the RST too: a SYN on a flow dropped at a message boundary starts afresh.
  const k = judge();
  k.tcp('192.0.2.53', 5060, 1, DATA, hello, 0);
  k.tcp('192.0.2.53', 5060, 70_000, TCP_FLAG_SYN, '', 1);
  t.equal(k.tcp('192.0.2.53', 5060, 70_001, DATA, register, 2).reason, R_OK);
  // A flow dropped in the middle of a message keeps its drop through a SYN.
  const m = judge();
  const cut = 40;
  t.equal(m.tcp('192.0.2.54', 5060, 1, DATA, register.subarray(0, cut), 0).reason, R_PARTIAL);
  t.equal(m.tcp('192.0.2.54', 5060, 1 + cut, DATA, hello, 1).verdict, VERDICT_DROP, 'garbage after half a message');
  m.tcp('192.0.2.54', 5060, 500, TCP_FLAG_SYN, '', 2);
  t.equal(m.tcp('192.0.2.54', 5060, 1 + cut, DATA, register.subarray(cut), 3).reason, R_FLOW_DROPPED, 'still dropped');
});

t.test('a flood of bare SYNs creates no flows (live ones stay in the table)', async (t) => {
  const j = judge();
  t.equal(j.tcp('192.0.2.55', 40055, 1, DATA, register.subarray(0, 40), 0).reason, R_PARTIAL);
  for (let i = 0; i < 20_000; i++) j.tcp(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1024 + (i % 60000), i, TCP_FLAG_SYN, '', 1);
  t.equal(j.engine.flows.size, 1, 'only the flow that carried data');
  t.equal(j.tcp('192.0.2.55', 40055, 41, DATA, register.subarray(40), 2).reason, R_OK, 'and it completes its message');
});

t.test('segments the kernel does not deliver as stream data are dropped: URG, SYN with data, data without ACK', async (t) => {
  const j = judge();
  t.equal(j.tcp('192.0.2.60', 40060, 1, DATA | TCP_FLAG_URG, register, 0).reason, R_TCP_FLAGS, 'URG: its urgent byte leaves the stream (RFC 6093)');
  t.equal(j.tcp('192.0.2.60', 40060, 1, TCP_FLAG_ACK | TCP_FLAG_URG, '', 1).reason, R_TCP_FLAGS, 'even without data');
  t.equal(j.tcp('192.0.2.61', 40061, 0, TCP_FLAG_SYN | TCP_FLAG_ACK, register, 2).reason, R_TCP_FLAGS, 'SYN with data (no Fast Open on a PBX)');
  t.equal(j.tcp('192.0.2.62', 40062, 1, TCP_FLAG_PSH, register, 3).reason, R_TCP_FLAGS, 'data without ACK (RFC 9293 §3.10.7.4)');
  t.equal(j.tcp('192.0.2.62', 40062, 1, DATA, register, 4).reason, R_OK, 'the same bytes with ACK are judged');
});

t.test('with the PBX\'s view (its SYN|ACK seen), the client\'s SYN, FIN, RST and far segments restart nothing', async (t) => {
  const SA = TCP_FLAG_SYN | TCP_FLAG_ACK;
  const toll = Buffer.from(samples('toll-international').find((s) => s.name.includes('uk-00-prefix'))!.data);
  // An OPTIONS whose header promises 600 body bytes: what follows is skipped as body.
  const promise = Buffer.from(samples('rate-all')[0]!.data.toString('latin1').replace(/Content-Length: \d+/, 'Content-Length: 600').replace(/\r\n\r\n[\s\S]*$/, '\r\n\r\n'), 'latin1');
  const open = (j: Judge, src: string, port: number, isn: number, now = 0): void => {
    j.tcp(src, port, isn, TCP_FLAG_SYN, '', now);
    j.pbxTcp(src, port, 90_000, isn + 1, SA, now);
  };
  // FIN with the promise, then an RST at the kernel's next byte (the FIN took one), and a reconnect
  // from the same port: the PBX's SYN|ACK starts the new connection, whose first bytes are judged.
  let j = judge();
  open(j, '192.0.2.70', 40070, 1000);
  t.equal(j.tcp('192.0.2.70', 40070, 1001, DATA | TCP_FLAG_FIN, promise, 1).reason, R_OK);
  j.tcp('192.0.2.70', 40070, 1001 + promise.length + 1, TCP_FLAG_RST, '', 2);
  j.pbxTcp('192.0.2.70', 40070, 90_001, 0, TCP_FLAG_RST | TCP_FLAG_ACK, 2);
  open(j, '192.0.2.70', 40070, 1000 + promise.length, 3);
  t.equal(j.tcp('192.0.2.70', 40070, 1001 + promise.length, DATA, toll, 4).ruleId, 'toll-international', 'a new connection: its INVITE is judged, not skipped as body');
  // A segment the kernel may throw away (a bad checksum), then the client's RST at our next byte:
  // the kernel ignores that RST, so must we; other bytes at the same place are an insertion.
  j = judge();
  open(j, '192.0.2.71', 40071, 1000);
  j.tcp('192.0.2.71', 40071, 1001, DATA, promise, 1);
  j.tcp('192.0.2.71', 40071, 1001 + promise.length, DATA, 'x', 2);
  t.equal(j.tcp('192.0.2.71', 40071, 1002 + promise.length, TCP_FLAG_RST, '', 3).verdict, VERDICT_ACCEPT);
  t.equal(j.tcp('192.0.2.71', 40071, 1001 + promise.length, DATA, toll, 4).reason, R_TCP_OVERLAP, 'still followed: other bytes where "x" was are refused');
  // The client's SYN and a far segment change nothing either, at a boundary or not.
  j = judge();
  open(j, '192.0.2.72', 40072, 1000);
  j.tcp('192.0.2.72', 40072, 1001, DATA, register, 1);
  j.tcp('192.0.2.72', 40072, 5000, TCP_FLAG_SYN, '', 2);
  t.equal(j.tcp('192.0.2.72', 40072, 1 << 25, DATA, register, 3).reason, R_TCP_GAP, 'a far segment at a boundary: a gap, not a new start');
  t.equal(j.tcp('192.0.2.72', 40072, 1001 + register.length, DATA, register, 4).reason, R_OK, 'the stream goes on where it was');
});

t.test('with the PBX\'s view, a connection whose start was missed is picked up only for a while after the first segment', async (t) => {
  const j = judge();
  const min = 60_000;
  j.tcp('192.0.2.80', 40080, 1, TCP_FLAG_SYN, '', 0);
  j.pbxTcp('192.0.2.80', 40080, 7, 2, TCP_FLAG_SYN | TCP_FLAG_ACK, 0);
  t.equal(j.tcp('192.0.2.81', 40081, 500, DATA, register, 5 * min).reason, R_OK, 'open across a restart: picked up at its next data');
  // Later, data on a 4-tuple without a flow (pushed out of the table by a flood, or spoofed) is no start.
  t.equal(j.tcp('192.0.2.82', 40082, 500, DATA, register, 16 * min).reason, R_TCP_GAP, 'after 15 minutes: dropped');
  for (let i = 0; i < 100; i++) j.tcp(`10.1.${i >> 8}.${i & 255}`, 2000, 7, DATA, '\r\n\r\n', 16 * min);
  t.equal(j.engine.flows.size, 1, 'spoofed segments create no flows (and a SYN|ACK alone makes none either)');
  j.tcp('192.0.2.82', 40082, 10, TCP_FLAG_SYN, '', 17 * min);
  j.pbxTcp('192.0.2.82', 40082, 70, 11, TCP_FLAG_SYN | TCP_FLAG_ACK, 17 * min);
  t.equal(j.tcp('192.0.2.82', 40082, 11, DATA, register, 17 * min).reason, R_OK, 'a connection the PBX accepted is followed');
});

t.test('with the PBX\'s view, a connection the PBX opens from a SIP port is followed (Kamailio with tcp_reuse_port)', async (t) => {
  const j = judge();
  const min = 60_000;
  j.tcp('192.0.2.90', 40090, 1, TCP_FLAG_SYN, '', 0);
  j.pbxTcp('192.0.2.90', 40090, 7, 2, TCP_FLAG_SYN | TCP_FLAG_ACK, 0); // the PBX's view is on
  // The PBX connects out from 5060 to a trunk's 5060: its SYN, then the trunk's SYN|ACK, both seen.
  j.pbxTcp('192.0.2.91', 5060, 3000, 0, TCP_FLAG_SYN, 20 * min);
  t.equal(j.tcp('192.0.2.91', 5060, 8000, TCP_FLAG_SYN | TCP_FLAG_ACK, '', 20 * min, 3001).verdict, VERDICT_ACCEPT, 'the trunk\'s SYN|ACK passes');
  t.equal(j.tcp('192.0.2.91', 5060, 8001, DATA, register, 20 * min).reason, R_TCP_GAP, 'but starts nothing: its kernel may have thrown it away for another');
  // The PBX's request, acknowledging the trunk's ISN + 1 (its kernel's word): the flow starts there.
  j.pbxTcp('192.0.2.91', 5060, 3001, 8001, DATA, 20 * min, register);
  t.equal(j.tcp('192.0.2.91', 5060, 8001, DATA, register, 20 * min).reason, R_OK, 'the PBX\'s first segment starts the flow');
  // Two SYN|ACKs, the first with a bad checksum (thrown away by the kernel), the second taken:
  // bytes at the first one's numbers, all before the kernel's next byte, must not frame what follows.
  const promise = Buffer.from(samples('rate-all')[0]!.data.toString('latin1').replace(/Content-Length: \d+/, `Content-Length: ${scannerRegister.length}`).replace(/\r\n\r\n[\s\S]*$/, '\r\n\r\n'), 'latin1');
  const isn1 = 50_000;
  const isn2 = isn1 + promise.length;
  j.pbxTcp('192.0.2.93', 5060, 6000, 0, TCP_FLAG_SYN, 20 * min);
  j.tcp('192.0.2.93', 5060, isn1, TCP_FLAG_SYN | TCP_FLAG_ACK, '', 20 * min, 6001);
  j.tcp('192.0.2.93', 5060, isn2, TCP_FLAG_SYN | TCP_FLAG_ACK, '', 20 * min, 6001);
  t.equal(j.tcp('192.0.2.93', 5060, isn1 + 1, DATA, promise, 20 * min).reason, R_TCP_GAP, 'before the PBX\'s first segment: dropped');
  j.pbxTcp('192.0.2.93', 5060, 6001, isn2 + 1, DATA, 20 * min, register);
  t.equal(j.tcp('192.0.2.93', 5060, isn1 + 1, DATA, promise, 20 * min).reason, R_RETRANSMIT, 'after it: bytes its kernel has had, passed unread');
  t.equal(j.tcp('192.0.2.93', 5060, isn2 + 1, DATA, scannerRegister, 20 * min).reason, R_SCANNER_UA, 'and the kernel\'s next bytes judged as a message, not skipped as a body');
  // A client cannot do the same for its own connection: no SYN of the PBX was seen for it.
  j.tcp('192.0.2.92', 40092, 1, TCP_FLAG_SYN | TCP_FLAG_ACK, '', 20 * min, 1);
  t.equal(j.tcp('192.0.2.92', 40092, 2, DATA, register, 20 * min).reason, R_TCP_GAP);
});

t.test('a keep-alive probe with a garbage octet (RFC 1122 §4.2.3.6, Windows) does not cut the phone off', async (t) => {
  const probe = Buffer.from([0]); // one byte, at the sequence number before the next
  // Without the PBX's view: the probe cannot be told from an insertion, so it is dropped, and only it.
  let j = judge();
  t.equal(j.tcp('192.0.2.100', 40100, 1, DATA, register, 0).reason, R_OK);
  const next = 1 + register.length;
  t.equal(j.tcp('192.0.2.100', 40100, next - 1, DATA, probe, 1).reason, R_TCP_OVERLAP, 'other than the judged byte: dropped');
  t.equal(j.tcp('192.0.2.100', 40100, next, DATA, register, 2).reason, R_OK, 'the connection goes on: the next REGISTER is judged');
  // With it: once the PBX has acknowledged the bytes (the ack of its 401), its kernel discards whatever repeats them.
  j = judge();
  j.tcp('192.0.2.101', 40101, 1000, TCP_FLAG_SYN, '', 0);
  j.pbxTcp('192.0.2.101', 40101, 90_000, 1001, TCP_FLAG_SYN | TCP_FLAG_ACK, 0);
  t.equal(j.tcp('192.0.2.101', 40101, 1001, DATA, register, 1).reason, R_OK);
  const acked = 1001 + register.length;
  t.equal(j.tcp('192.0.2.101', 40101, acked - 1, DATA, probe, 2).reason, R_TCP_OVERLAP, 'before the PBX answered: checked, and dropped');
  j.pbxTcp('192.0.2.101', 40101, 90_001, acked, DATA, 3, 'SIP/2.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  let d = j.tcp('192.0.2.101', 40101, acked - 1, DATA, probe, 4);
  t.equal(d.reason, R_RETRANSMIT, 'acknowledged: passed, so the PBX\'s kernel answers it');
  t.equal(d.verdict, VERDICT_ACCEPT);
  // A REGISTER after it is judged; a repeat of bytes the PBX has not acknowledged yet is still checked.
  t.equal(j.tcp('192.0.2.101', 40101, acked, DATA, register, 5).reason, R_OK);
  t.equal(j.tcp('192.0.2.101', 40101, acked, DATA, scannerRegister.subarray(0, register.length), 6).reason, R_TCP_OVERLAP, 'not acknowledged: other bytes are refused');
  // Straddling the acknowledged point: the part before it is not compared, the part after it is.
  const straddle = Buffer.concat([Buffer.alloc(10, 0x78), register.subarray(0, 20)]);
  t.equal(j.tcp('192.0.2.101', 40101, acked - 10, DATA, straddle, 7).reason, R_RETRANSMIT, 'garbage only where acknowledged: passed');
  straddle[15] = 0x78;
  t.equal(j.tcp('192.0.2.101', 40101, acked - 10, DATA, straddle, 8).reason, R_TCP_OVERLAP, 'garbage after it: dropped');
  // Older than the 2 KiB a flow keeps, but acknowledged: passed rather than dropped as old.
  for (let i = 1; i <= 6; i++) j.tcp('192.0.2.101', 40101, acked + i * register.length, DATA, register, 9);
  const end = acked + 7 * register.length;
  t.ok(end - acked > 2048);
  d = j.tcp('192.0.2.101', 40101, acked, DATA, register, 10);
  t.equal(d.reason, R_TCP_OLD, 'not acknowledged, past the 2 KiB kept: old, dropped');
  j.pbxTcp('192.0.2.101', 40101, 90_100, end, DATA, 11, 'SIP/2.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  j.pbxTcp('192.0.2.101', 40101, 90_200, acked, DATA, 11, 'SIP/2.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  t.equal(j.tcp('192.0.2.101', 40101, acked, DATA, register, 12).reason, R_RETRANSMIT, 'acknowledged (a later, lower ack changes nothing): passed');
  t.equal(j.tcp('192.0.2.101', 40101, end, DATA, register, 13).reason, R_OK, 'and the stream goes on');
});

t.test('with the PBX\'s view, a flood that pushes a flow out of the table ends the pickup of unseen connections', async (t) => {
  // A table of 8 flows, so that 8 spoofed segments fill it.
  const small = (): Judge => {
    const e = engineFor(configWith({ secretHosts: [SECRET] }));
    return new Judge(new Engine(e.rules, { rates: e.rates, bans: e.bans, trust: e.trust, flows: new TcpFlows(8) }));
  };
  const toll = Buffer.from(samples('toll-international').find((s) => s.name.includes('uk-00-prefix'))!.data);
  const cut = toll.indexOf('\r\n') + 2; // the Request-URI with the number, and nothing else
  // What the PBX reads after the INVITE's first line as more of its headers, and sipwall as a message of its own.
  const rest = Buffer.from('OPTIONS sip:100@pbx.example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.110:40110;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:100@pbx.example.com>\r\nCall-ID: x1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
  const attack = (j: Judge, payload: Buffer): void => {
    j.tcp('192.0.2.110', 40110, 1000, TCP_FLAG_SYN, '', 0);
    j.pbxTcp('192.0.2.110', 40110, 90_000, 1001, TCP_FLAG_SYN | TCP_FLAG_ACK, 0);
    t.equal(j.tcp('192.0.2.110', 40110, 1001, DATA, toll.subarray(0, cut), 1).reason, R_PARTIAL, 'the INVITE\'s first line: held, not yet judged');
    // Spoofed data on 8 connections nobody opened, within the pickup window: each makes a flow.
    for (let i = 0; i < 8; i++) j.tcp(`198.51.100.${i + 1}`, 3000 + i, 7, DATA, payload, 2);
  };
  let j = small();
  attack(j, Buffer.from('REGISTER sip:pbx SIP/2.0\r\n')); // a header block the flood leaves unfinished
  t.equal(j.engine.flows.evicted, 1, 'the held INVITE was pushed out');
  let d = j.tcp('192.0.2.110', 40110, 1001 + cut, DATA, rest, 3);
  t.equal(d.reason, R_TCP_GAP, 'its rest is not picked up as a message of its own');
  t.equal(d.verdict, VERDICT_DROP);
  t.equal(j.tcp('198.51.100.200', 4000, 7, DATA, register, 4).reason, R_TCP_GAP, 'nor any other unseen connection, from then on');
  j.tcp('192.0.2.111', 40111, 5000, TCP_FLAG_SYN, '', 5);
  j.pbxTcp('192.0.2.111', 40111, 80_000, 5001, TCP_FLAG_SYN | TCP_FLAG_ACK, 5);
  t.equal(j.tcp('192.0.2.111', 40111, 5001, DATA, register, 6).reason, R_OK, 'a connection the PBX accepts is still followed');
  // A flow pushed out where it looked complete to us: the kernel may have thrown away the end we
  // judged (a body sent with a bad checksum), so other bytes at those numbers must not be picked up.
  j = small();
  const promise = Buffer.from(samples('rate-all')[0]!.data.toString('latin1').replace(/Content-Length: \d+/, 'Content-Length: 10').replace(/\r\n\r\n[\s\S]*$/, '\r\n\r\n'), 'latin1');
  j.tcp('192.0.2.112', 40112, 1000, TCP_FLAG_SYN, '', 0);
  j.pbxTcp('192.0.2.112', 40112, 90_000, 1001, TCP_FLAG_SYN | TCP_FLAG_ACK, 0);
  t.equal(j.tcp('192.0.2.112', 40112, 1001, DATA, promise, 1).reason, R_OK);
  t.equal(j.tcp('192.0.2.112', 40112, 1001 + promise.length, DATA, 'x'.repeat(10), 1).verdict, VERDICT_ACCEPT, 'the body, which the kernel may discard');
  for (let i = 0; i < 8; i++) j.tcp(`198.51.100.${i + 1}`, 3000 + i, 7, DATA, register, 2);
  t.equal(j.engine.flows.evicted, 1);
  t.equal(j.tcp('192.0.2.112', 40112, 1001 + promise.length, DATA, toll, 3).reason, R_TCP_GAP, 'other bytes where the body was: not picked up');
});

t.test('the PBX\'s acks keep a flow in step with its kernel', async (t) => {
  const j = judge();
  const open = (src: string, port: number): void => {
    j.tcp(src, port, 1000, TCP_FLAG_SYN, '', 0);
    j.pbxTcp(src, port, 90_000, 1001, TCP_FLAG_SYN | TCP_FLAG_ACK, 0);
  };
  const answer = (src: string, port: number, ack: number): void => {
    j.pbxTcp(src, port, 90_001, ack, DATA, 1, 'SIP/2.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  };
  // Ahead of us at a message boundary (bytes that went past the queue): the flow restarts at the kernel's next byte.
  open('192.0.2.120', 40120);
  t.equal(j.tcp('192.0.2.120', 40120, 1001, DATA, register, 1).reason, R_OK);
  const kernel = 1001 + 3 * register.length;
  answer('192.0.2.120', 40120, kernel);
  t.equal(j.tcp('192.0.2.120', 40120, kernel, DATA, scannerRegister, 2).reason, R_SCANNER_UA, 'judged where the kernel stands, not dropped as a gap');
  // Ahead of us in the middle of a message: where the PBX's messages begin is unknown, the flow is dropped.
  open('192.0.2.121', 40121);
  t.equal(j.tcp('192.0.2.121', 40121, 1001, DATA, register.subarray(0, 40), 1).reason, R_PARTIAL);
  answer('192.0.2.121', 40121, 1001 + 200);
  t.equal(j.tcp('192.0.2.121', 40121, 1041, DATA, register.subarray(40), 2).reason, R_FLOW_DROPPED);
  // A FIN takes one number: the ack of a FIN is no sign of trouble.
  open('192.0.2.122', 40122);
  t.equal(j.tcp('192.0.2.122', 40122, 1001, DATA | TCP_FLAG_FIN, register.subarray(0, 40), 1).reason, R_PARTIAL);
  answer('192.0.2.122', 40122, 1001 + 41);
  t.equal(j.tcp('192.0.2.122', 40122, 1001, DATA, register.subarray(0, 40), 2).reason, R_RETRANSMIT, 'not dropped');
});

t.test('an ack 2^31 behind the stream is not taken for one ahead of it (sequence numbers wrap)', async (t) => {
  const j = judge();
  j.tcp('192.0.2.130', 40130, 1000, TCP_FLAG_SYN, '', 0);
  j.pbxTcp('192.0.2.130', 40130, 90_000, 1001, TCP_FLAG_SYN | TCP_FLAG_ACK, 0);
  t.equal(j.tcp('192.0.2.130', 40130, 1001, DATA, register, 1).reason, R_OK);
  j.pbxTcp('192.0.2.130', 40130, 90_001, 1001 + register.length, DATA, 1, 'SIP/2.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  // Two gigabytes of CRLF keep-alives later, with no answer from the PBX: stand the flow there directly.
  const f = (j.engine.flows as unknown as { lru: { get(k: string): { nextSeq: number; seenLen: number } | undefined; keys(): IterableIterator<string> } }).lru;
  const flow = f.get([...f.keys()][0]!)!;
  const far = (1001 + register.length + 2 ** 31 + 4096) >>> 0;
  flow.nextSeq = far;
  flow.seenLen = 0;
  t.equal(j.tcp('192.0.2.130', 40130, far, DATA, '\r\n\r\n', 2).reason, R_KEEPALIVE, 'a keep-alive');
  t.equal(j.tcp('192.0.2.130', 40130, far, DATA, scannerRegister.subarray(0, 4), 3).reason, R_TCP_OVERLAP, 'other bytes where it was: refused, not passed as acknowledged');
  j.pbxTcp('192.0.2.130', 40130, 90_100, far + 4, DATA, 4, 'SIP/2.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  t.equal(j.tcp('192.0.2.130', 40130, far, DATA, scannerRegister.subarray(0, 4), 5).reason, R_RETRANSMIT, 'a fresh ack replaces the stale one');
});

t.test('a spoofed SYN flood, answered by the PBX\'s SYN|ACKs, pushes no live flow out', async (t) => {
  const e = engineFor(configWith({ secretHosts: [SECRET] }));
  const j = new Judge(new Engine(e.rules, { rates: e.rates, bans: e.bans, trust: e.trust, flows: new TcpFlows(8) }));
  j.tcp('192.0.2.140', 40140, 1000, TCP_FLAG_SYN, '', 0);
  j.pbxTcp('192.0.2.140', 40140, 90_000, 1001, TCP_FLAG_SYN | TCP_FLAG_ACK, 0);
  t.equal(j.tcp('192.0.2.140', 40140, 1001, DATA, register.subarray(0, 40), 1).reason, R_PARTIAL, 'a phone mid-message');
  for (let i = 0; i < 100; i++) {
    const src = `198.51.100.${i + 1}`;
    j.tcp(src, 5000 + i, 77, TCP_FLAG_SYN, '', 2);
    j.pbxTcp(src, 5000 + i, 3_000_000 + i, 78, TCP_FLAG_SYN | TCP_FLAG_ACK, 2);
    // The spoofer knows its own ISN but not the PBX's: its data acknowledges a guess.
    t.equal(j.tcp(src, 5000 + i, 78, DATA, register, 2, 12345).reason, R_TCP_GAP);
  }
  t.equal(j.engine.flows.evicted, 0, 'nothing pushed out');
  t.equal(j.tcp('192.0.2.140', 40140, 1041, DATA, register.subarray(40), 3).reason, R_OK, 'the phone\'s message completes and is judged');
  // A real client, which saw the SYN|ACK, gets its flow.
  j.tcp('192.0.2.141', 40141, 5000, TCP_FLAG_SYN, '', 4);
  j.pbxTcp('192.0.2.141', 40141, 70_000, 5001, TCP_FLAG_SYN | TCP_FLAG_ACK, 4);
  t.equal(j.tcp('192.0.2.141', 40141, 5001, DATA, register, 5).reason, R_OK);
  t.equal(j.tcp('192.0.2.141', 40141, 5001 + register.length, DATA, scannerRegister, 6).reason, R_SCANNER_UA, 'and is followed');
});

t.test('the PBX reconnecting out on the same 4-tuple: the new connection starts afresh', async (t) => {
  const j = judge();
  j.tcp('192.0.2.150', 40150, 1, TCP_FLAG_SYN, '', 0);
  j.pbxTcp('192.0.2.150', 40150, 7, 2, TCP_FLAG_SYN | TCP_FLAG_ACK, 0); // the PBX's view is on
  const open = (isn: number, pbxIsn: number, now: number): void => {
    j.pbxTcp('192.0.2.151', 5060, pbxIsn, 0, TCP_FLAG_SYN, now);
    j.tcp('192.0.2.151', 5060, isn, TCP_FLAG_SYN | TCP_FLAG_ACK, '', now, pbxIsn + 1);
    j.pbxTcp('192.0.2.151', 5060, pbxIsn + 1, isn + 1, DATA, now, register);
  };
  open(1_000_000, 3000, 1);
  t.equal(j.tcp('192.0.2.151', 5060, 1_000_001, DATA, 'SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n', 1, 3001 + register.length).verdict, VERDICT_ACCEPT);
  // The connection ends, and the PBX opens a new one from the same port, the peer picking an ISN far below.
  open(1_000_000 - (1 << 30), 12000, 2);
  t.equal(j.tcp('192.0.2.151', 5060, 1_000_001 - (1 << 30), DATA, register, 2, 12001 + register.length).reason, R_OK, 'far from the old one: followed, not dropped as a gap');
  // And again, the peer picking an ISN just below the old one's acknowledged bytes.
  open(1_000_000 - (1 << 30) - 5000, 15000, 3);
  t.equal(j.tcp('192.0.2.151', 5060, 1_000_000 - (1 << 30) - 4999, DATA, scannerRegister, 3, 15001 + register.length).reason, R_SCANNER_UA, 'judged, not passed as acknowledged bytes of the old one');
});
