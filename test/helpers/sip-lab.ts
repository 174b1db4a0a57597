// A small SIP lab in network namespaces for end-to-end tests of `sipwall
// start`: the host namespace plays the PBX (a UDP and TCP listener on 5060
// that prints the Call-ID of every SIP message it receives) with sipwall
// inline in front of it; the peer namespace sends real SIP over UDP and TCP
// from several source addresses. Built on kernel-ns.ts; torn down with the test.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPair, Lines, pollUntil, type NsPair, type Teardown } from './kernel-ns.js';
import { NO_MEMORY_REDUCER } from '../../src/cli/gc-tuning.js';

export { HOST4, HOST6, PEER_A4, PEER_A6, PEER_B4, PEER_B6 } from './kernel-ns.js';

const ROOT = process.cwd();
const BIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

// Prints "udp|tcp <src> <call-id>" per SIP message. TCP is framed by
// Content-Length like a real SIP stack (RFC 3261 §18.3).
const PBX = String.raw`
const dgram = require('node:dgram'); const net = require('node:net');
const out = (proto, addr, text) => { const m = /\r\nCall-ID:\s*(\S+)/i.exec(text) || /\r\ni:\s*(\S+)/.exec(text); process.stdout.write(proto + ' ' + addr.replace(/^::ffff:/, '') + ' ' + (m ? m[1] : '-') + '\n'); };
let ready = 0; const up = () => { if (++ready === 2) process.stdout.write('ready\n'); };
const u = dgram.createSocket({ type: 'udp6', ipv6Only: false });
// A request carrying "X-Lab-Answer: 401 Unauthorized" is answered like a
// UAS would (RFC 3261 §8.2.6.2: Via, From, To, Call-ID, CSeq copied, a To
// tag added), from port 5060 to where it came from: the PBX's answer that
// sipwall watches on its way out.
const answer = (text, r) => { const a = /\r\nX-Lab-Answer:\s*([^\r\n]+)/i.exec(text); if (!a) return;
  const keep = text.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq|v|f|t|i):/i.test(l)).map((l) => /^(To|t):/i.test(l) && !/;tag=/i.test(l) ? l + ';tag=lab' : l);
  u.send(Buffer.from('SIP/2.0 ' + a[1] + '\r\n' + keep.join('\r\n') + '\r\nContent-Length: 0\r\n\r\n', 'latin1'), r.port, r.address); };
u.on('message', (m, r) => { const text = m.toString('latin1'); out('udp', r.address, text); answer(text, r); });
u.bind(5060, '::', up);
net.createServer((c) => { let buf = ''; c.on('error', () => {}); c.on('data', (d) => { buf += d.toString('latin1');
  for (;;) { const h = buf.indexOf('\r\n\r\n'); if (h < 0) break; const cl = /\r\n(?:Content-Length|l)\s*:\s*(\d+)/i.exec(buf.slice(0, h)); const end = h + 4 + (cl ? Number(cl[1]) : 0); if (buf.length < end) break; out('tcp', c.remoteAddress, buf.slice(0, end)); buf = buf.slice(end); } }); })
  .listen({ port: 5060, host: '::', ipv6Only: false }, up);
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

// Reads JSON commands: {id, proto, src, dst, segments: [base64], gapMs}. UDP:
// one datagram per segment. TCP: connect from src, write each segment
// gapMs apart (Nagle off so each write is its own segment), then close.
const SENDER = String.raw`
const dgram = require('node:dgram'); const net = require('node:net');
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (l) => { const c = JSON.parse(l); const segs = c.segments.map((s) => Buffer.from(s, 'base64'));
  const done = (err) => process.stdout.write((err ? 'err ' + c.id + ' ' + err.message : 'sent ' + c.id) + '\n');
  if (c.proto === 'udp') { const s = dgram.createSocket(net.isIP(c.src) === 6 ? 'udp6' : 'udp4'); s.on('error', done);
    s.bind(0, c.src, () => { let i = 0; const next = () => { if (i === segs.length) { s.close(); return done(); } s.send(segs[i++], 5060, c.dst, (e) => e ? done(e) : setTimeout(next, c.gapMs || 0)); }; next(); }); return; }
  const sock = net.connect({ host: c.dst, port: 5060, localAddress: c.src, noDelay: true }); let i = 0; let finished = false;
  const fin = (e) => { if (!finished) { finished = true; sock.destroy(); done(e); } };
  sock.setTimeout(4000, () => fin(new Error('timeout')));
  sock.on('error', fin);
  sock.on('connect', () => { const next = () => { if (i === segs.length) { setTimeout(() => fin(), 300); return; } sock.write(segs[i++], () => setTimeout(next, c.gapMs || 50)); }; next(); });
});
rl.on('close', () => process.exit(0)); process.stdout.write('ready\n');
`;

let seq = 0;

export interface SipwallProc {
  child: ChildProcess;
  lines: Lines;
  /** Parsed JSON log lines so far. */
  events(): Array<Record<string, unknown>>;
  stderr(): string;
}

export class SipLab {
  readonly pair: NsPair;
  readonly dir: string;
  /** The config file of the last sipwall() call. */
  lastConfig = '';

  get controlSocket(): string {
    return join(this.dir, 'control.sock');
  }
  readonly #pbx: Lines;
  readonly #sender: Lines;
  readonly #senderProc: ChildProcess;

  private constructor(pair: NsPair, pbx: ChildProcess, sender: ChildProcess) {
    this.pair = pair;
    this.#pbx = new Lines(pbx);
    this.#senderProc = sender;
    this.#sender = new Lines(sender);
    this.dir = mkdtempSync(join(tmpdir(), 'sipwall-lab-'));
  }

  static async start(t: Teardown, tag: string): Promise<SipLab> {
    const pair = createPair(t, tag);
    const lab = new SipLab(pair, pair.host.spawn(['node', '-e', PBX]), pair.peer.spawn(['node', '-e', SENDER]));
    t.teardown(() => rmSync(lab.dir, { recursive: true, force: true }));
    if (!(await lab.#pbx.wait((l) => l === 'ready', 10_000)) || !(await lab.#sender.wait((l) => l === 'ready', 10_000))) {
      throw new Error('lab processes did not start');
    }
    return lab;
  }

  /** Starts `sipwall start` in the host namespace with this YAML config; resolves when it logged "start". */
  /** `own process group`: as a shell starts it, so that a terminal's Ctrl-C (SIGINT to the group) can be played. */
  async sipwall(yaml: string, args: string[] = [], opts: { ownProcessGroup?: boolean } = {}): Promise<SipwallProc> {
    const cfg = join(this.dir, `sipwall-${seq++}.yaml`);
    // Each lab keeps its bans and its control socket in its own directory,
    // never in /var/lib/sipwall or /run/sipwall.
    let text = yaml;
    if (!/^stateFile:/m.test(text)) text += `\nstateFile: ${join(this.dir, 'bans.json')}\n`;
    if (!/^control:/m.test(text)) text += `\ncontrol: {socket: ${this.controlSocket}, group: ""}\n`;
    writeFileSync(cfg, text);
    this.lastConfig = cfg;
    const child = this.pair.host.spawn(['node', NO_MEMORY_REDUCER, BIN, 'start', '--config', cfg, ...args], { detached: opts.ownProcessGroup ?? false });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const lines = new Lines(child);
    const proc: SipwallProc = {
      child,
      lines,
      events: () => lines.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
      stderr: () => err,
    };
    if (!(await lines.wait((l) => l.includes('"event":"start"'), 20_000))) {
      throw new Error(`sipwall did not start: ${lines.lines.join('\n')} ${err}`);
    }
    return proc;
  }

  /** Sends one SIP message (or several segments of one stream) and resolves when the sender is done. */
  async send(proto: 'udp' | 'tcp', src: string, dst: string, segments: Buffer[], gapMs = 0): Promise<string> {
    const id = `m${seq++}`;
    this.#senderProc.stdin?.write(`${JSON.stringify({ id, proto, src, dst, segments: segments.map((s) => s.toString('base64')), gapMs })}\n`);
    await this.#sender.wait((l) => l === `sent ${id}` || l.startsWith(`err ${id} `), 10_000);
    return id;
  }

  /** Whether the PBX received a message with this Call-ID, waiting at most timeoutMs. */
  received(callId: string, timeoutMs: number): Promise<boolean> {
    return this.#pbx.wait((l) => l.endsWith(` ${callId}`), timeoutMs);
  }

  /** Count of PBX lines so far. */
  get pbxLines(): readonly string[] {
    return this.#pbx.lines;
  }

  async until(fn: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
    return pollUntil(fn, Math.ceil(timeoutMs / 50), 50);
  }
}

/** A SIP request with a unique Call-ID (returned) from a template: replaces the Call-ID line. */
export function withCallId(msg: Buffer, callId: string): Buffer {
  const text = msg.toString('latin1').replace(/\r\n(Call-ID|i)\s*:[^\r\n]*/i, `\r\nCall-ID: ${callId}`);
  return Buffer.from(text, 'latin1');
}
