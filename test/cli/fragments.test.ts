// SIP datagrams larger than the link MTU, end to end in namespaces: the
// sender's kernel fragments them (veth MTU 1500), conntrack's defrag
// (nf_defrag_ipv4/ipv6, at PREROUTING priority -400, before raw and mangle)
// reassembles them, and sipwall judges the whole datagram. An INVITE with a
// rich SDP body, or headers padded by an attacker, is often this large.

import t from 'tap';
import { samples } from '../helpers/engine-fixtures.js';
import { HOST4, HOST6, PEER_A4, PEER_A6, PEER_B4, SipLab, withCallId } from '../helpers/sip-lab.js';

const SECRET = 'secret-7f3a.pbx.example.com';
const scanner = samples('friendly-scanner').find((s) => s.name.includes('register'))!.data;
const phone = samples('rate-register')[0]!.data;
const toSecret = samples('_legit').find((s) => s.name.includes('secret'))!.data;

/** The message with `bytes` of padding headers before its first header: the User-Agent ends up in a later fragment. */
function padded(msg: Buffer, bytes: number): Buffer {
  const text = msg.toString('latin1');
  const eol = text.indexOf('\r\n') + 2;
  const pad = Array.from({ length: Math.ceil(bytes / 100) }, (_, i) => `X-Pad-${i}: ${'p'.repeat(88)}\r\n`).join('');
  return Buffer.from(text.slice(0, eol) + pad + text.slice(eol), 'latin1');
}

/** Datagrams the peer namespace fragmented so far (RFC 4293 ipSystemStatsOutFragOKs), for dst's family. */
function fragmented(lab: SipLab, dst: string): number {
  const v6 = dst.includes(':');
  const text = lab.pair.peer.exec(['cat', v6 ? '/proc/net/snmp6' : '/proc/net/snmp']);
  if (v6) return Number(/^Ip6FragOKs\s+(\d+)/m.exec(text)?.[1] ?? NaN);
  const [names, values] = text.split('\n').filter((l) => l.startsWith('Ip: ')).map((l) => l.split(/\s+/));
  return Number(values![names!.indexOf('FragOKs')]);
}

t.test('fragmented UDP SIP, IPv4 and IPv6: judged whole after reassembly', async (t) => {
  const lab = await SipLab.start(t, 'frag');
  const sw = await lab.sipwall(`secretHosts: [${SECRET}]\ninline: {queueNum: 313}\n`);
  t.teardown(() => {
    sw.child.kill('SIGTERM');
  });
  let n = 0;
  const id = (): string => `frag-${process.pid}-${n++}`;
  for (const [src, dst, scan] of [[PEER_B4, HOST4, PEER_A4], ['fd77::3', HOST6, PEER_A6]] as const) {
    const big = withCallId(padded(phone, 4000), id());
    t.ok(big.length > 4000, `a ${big.length}-byte REGISTER`);
    const cid = big.toString('latin1').match(/Call-ID: (\S+)/)![1]!;
    const before = fragmented(lab, dst);
    await lab.send('udp', src, dst, [big]);
    t.ok(await lab.received(cid, 5000), `${src}: reaches the PBX whole`);
    t.ok(fragmented(lab, dst) > before, 'and it did travel in fragments (the sender\'s FragOKs)');
    const bad = withCallId(padded(scanner, 4000), id());
    const bid = bad.toString('latin1').match(/Call-ID: (\S+)/)![1]!;
    await lab.send('udp', scan, dst, [bad]);
    t.ok(await lab.until(() => sw.events().some((e) => e['event'] === 'ban' && e['reason'] === 'scanner-ua' && String(e['source']).startsWith(scan.includes(':') ? 'fd77::' : scan))), `${scan}: a scanner UA in a later fragment is caught and banned`);
    t.notOk(await lab.received(bid, 300), 'and its REGISTER never reaches the PBX');
  }
  // The control: a plain message from the trusted phone still arrives (the path was up all along).
  const c = withCallId(toSecret, id());
  await lab.send('udp', PEER_B4, HOST4, [c]);
  t.ok(await lab.received(c.toString('latin1').match(/Call-ID: (\S+)/)![1]!, 5000));
});
