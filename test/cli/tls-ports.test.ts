// SIP over TLS on the SIP ports, end to end in namespaces: real TLS
// ClientHellos (node's tls.connect) from the peer to TCP listeners in the
// host, with `sipwall start` inline. TLS is ciphertext to sipwall: on a port
// in inline.tlsPorts (5061 by default) it must reach the PBX unqueued; on a
// queued port it is dropped and counted as `tls`; a banned source reaches
// neither.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { samples } from '../helpers/engine-fixtures.js';
import { Lines } from '../helpers/kernel-ns.js';
import { HOST4, PEER_A4, PEER_B4, SipLab, withCallId } from '../helpers/sip-lab.js';

const BIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const SECRET = 'secret-7f3a.pbx.example.com';
const scanner = samples('friendly-scanner').find((s) => s.name.includes('register'))!.data;

// Prints "<port> <src> <first byte, hex>" for the first bytes of each connection.
const LISTENER = String.raw`
const net = require('node:net'); let up = 0;
for (const port of [5061, 5062]) net.createServer((c) => { c.on('error', () => {}); c.once('data', (d) => process.stdout.write(port + ' ' + c.remoteAddress.replace(/^::ffff:/, '') + ' ' + d[0].toString(16) + '\n')); })
  .listen({ port, host: '::', ipv6Only: false }, () => { if (++up === 2) process.stdout.write('ready\n'); });
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

// Reads "src dst port [localPort] [sip]" lines; opens a TLS connection (a
// real ClientHello), or with "sip" a plain one that sends an OPTIONS; gives
// it 1 s (SIP: 3 s, room for a SYN retry: after a dropped connection the
// PBX's socket may live on until the client's reset is in sequence), then
// resets it (destroy with unacknowledged data: an RST, so the same local
// port is free again at once).
const CLIENT = String.raw`
const tls = require('node:tls'); const net = require('node:net');
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => { const [src, dst, port, lport, kind] = l.split(' ');
  const o = { host: dst, port: Number(port), localAddress: src, ...(lport && lport !== '0' ? { localPort: Number(lport) } : {}) };
  const raw = net.connect(o); raw.on('error', () => {});
  if (kind === 'sip') raw.on('connect', () => raw.write(['OPTIONS sip:100@' + dst + ' SIP/2.0', 'Via: SIP/2.0/TCP ' + src + ';branch=z9hG4bK-r1', 'From: <sip:200@pbx>;tag=1', 'To: <sip:100@pbx>', 'Call-ID: r1@x', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join(String.fromCharCode(13, 10))));
  else tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'pbx.example.com' }).on('error', () => {});
  setTimeout(() => { if (!raw.destroyed) raw.resetAndDestroy(); process.stdout.write('done ' + l + '\n'); }, kind === 'sip' ? 3000 : 1000); });
process.stdout.write('ready\n');
`;

t.test('TLS on the SIP ports: unqueued on inline.tlsPorts, dropped as tls elsewhere, banned sources dropped on both', async (t) => {
  const lab = await SipLab.start(t, 'tls');
  const listener = new Lines(lab.pair.host.spawn(['node', '-e', LISTENER]));
  const clientProc = lab.pair.peer.spawn(['node', '-e', CLIENT]);
  const client = new Lines(clientProc);
  t.ok(await listener.wait((l) => l === 'ready', 10_000) && (await client.wait((l) => l === 'ready', 10_000)), 'listener and client up');
  const sw = await lab.sipwall(`secretHosts: [${SECRET}]\ninline: {queueNum: 312}\nbans: {baseSeconds: 60, factor: 1, maxSeconds: 60}\n`);
  t.teardown(() => {
    sw.child.kill('SIGTERM');
  });
  let tries = 0;
  /** Opens a TLS connection; whether its ClientHello reached the listener. */
  const hello = async (src: string, port: number, localPort = 0, kind = 'tls'): Promise<boolean> => {
    const line = `${src} ${HOST4} ${port} ${localPort} ${kind}`;
    const first = kind === 'tls' ? '16' : '4f'; // a TLS handshake record, or the O of OPTIONS
    const before = listener.lines.filter((l) => l === `${port} ${src} ${first}`).length;
    clientProc.stdin?.write(`${line}\n`);
    const n = ++tries;
    if (!(await client.wait(() => client.lines.filter((x) => x.startsWith('done ')).length >= n, 8000))) throw new Error(`TLS client stuck on ${line}`);
    return listener.lines.filter((l) => l === `${port} ${src} ${first}`).length > before;
  };

  const save = lab.pair.host.save(4);
  t.match(save, /-A SIPWALL -p tcp -m tcp --dport 5061 -j RETURN\n-A SIPWALL -p udp/, 'TCP to 5061 returns before the queue rules');
  t.match(save, /-A SIPWALL-OUT -p tcp -m tcp --sport 5061 -j RETURN/, 'and so does what the PBX sends from it');

  t.ok(await hello(PEER_B4, 5061), 'a TLS ClientHello to 5061 (inline.tlsPorts) reaches the PBX');
  t.notOk(await hello(PEER_B4, 5062), 'one to 5062, a queued port, does not');
  t.ok(await hello(PEER_B4, 5061), '(5061 still works afterwards: the path is up)');
  const st = spawnSync(process.execPath, [BIN, 'status', '--json', '--socket', lab.controlSocket], { encoding: 'utf8', timeout: 20_000 });
  t.equal(st.status, 0, st.stderr);
  const byReason = (JSON.parse(st.stdout) as { packets: { byReason: Record<string, { accept: number; drop: number }> } }).packets.byReason;
  t.ok((byReason['tls']?.drop ?? 0) >= 1, `the ClientHello to 5062 was dropped as tls (${JSON.stringify(byReason)})`);
  t.equal(byReason['tls']?.accept ?? 0, 0, 'none accepted');
  t.match(JSON.parse(st.stdout), { tlsPorts: [5061] }, 'status names the TLS ports');

  // A connection dropped for what it carried is not held against the next
  // one from the same address and port: the engine forgets a flow on its
  // RST and starts afresh on a SYN, which the native tier must show it.
  t.notOk(await hello(PEER_B4, 5062, 40123), 'TLS to 5062 from port 40123: dropped');
  t.ok(await hello(PEER_B4, 5062, 40123, 'sip'), 'then SIP on a new connection from the same port 40123 gets through');

  await lab.send('udp', PEER_A4, HOST4, [withCallId(scanner, `tls-scan-${process.pid}`)]);
  t.ok(await lab.until(() => lab.pair.host.exec(['ipset', 'list', 'sipwall-ban4']).includes(PEER_A4)), 'a scanner over UDP is banned');
  t.notOk(await hello(PEER_A4, 5061), 'and then cannot reach the TLS port either');
});
