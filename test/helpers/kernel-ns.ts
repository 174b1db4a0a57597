// Network namespaces for the kernel tests: a "host" namespace (where sipwall's
// rules go) joined by a veth pair to a "peer" namespace that sends from two
// IPv4 and two IPv6 addresses, plus small processes inside them: a UDP
// receiver, a UDP sender and a minimal NFQUEUE consumer.
//
// Every namespace is named swk-<pid>-<n>-<tag> and deleted by t.teardown, and
// the processes started in it are killed first. Namespaces of a test run that
// died without its teardown are reaped at the next start (their pid is gone).

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { reapStale } from '../../bench/lib/cleanup.js';
import { CommandRunner } from '../../src/kernel/command-runner.js';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export const HOST4 = '10.77.0.1';
export const PEER_A4 = '10.77.0.2';
export const PEER_B4 = '10.77.0.3';
export const HOST6 = 'fd77::1';
export const PEER_A6 = 'fd77::2';
export const PEER_B6 = 'fd77::3';
/** A port outside the SIP range: never queued, never banned with banScope sip-ports. */
export const CONTROL_PORT = 6000;

let counter = 0;
let reaped = false;

/** Namespaces of an earlier test run that died (kill -9, a crash) are removed, once per process. */
function reapStaleOnce(): void {
  if (reaped) return;
  reaped = true;
  reapStale('swk');
}

export class Ns {
  readonly name: string;
  readonly runner: CommandRunner;
  readonly #procs = new Set<ChildProcess>();

  constructor(name: string) {
    this.name = name;
    this.runner = new CommandRunner(['ip', 'netns', 'exec', name]);
  }

  /** Run a command in the namespace; throws with its stderr on failure. */
  exec(argv: string[], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', this.name, ...argv], {
      input: input ?? '',
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 20_000,
    });
  }

  /** Start a long-lived process in the namespace; killed when the namespace is deleted. */
  spawn(argv: string[], opts: { detached?: boolean } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], detached: opts.detached ?? false });
    this.#procs.add(child);
    child.on('close', () => this.#procs.delete(child));
    child.on('error', () => this.#procs.delete(child));
    child.stdin?.on('error', () => undefined);
    return child;
  }

  /** iptables-save (or ip6tables-save) without comments and counters, for before/after comparisons. */
  save(family: 4 | 6 = 4): string {
    return this.exec([family === 4 ? 'iptables-save' : 'ip6tables-save'])
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'))
      .join('\n');
  }

  /** Packet count of the first rule (iptables-save -c) in `table` whose text contains every one of `parts`. */
  ruleCount(family: 4 | 6, table: string, parts: string[]): number {
    const text = this.exec([family === 4 ? 'iptables-save' : 'ip6tables-save', '-c', '-t', table]);
    for (const line of text.split('\n')) {
      const m = /^\[(\d+):\d+\] (.*)$/.exec(line);
      if (m !== null && parts.every((p) => (m[2] as string).includes(p))) return Number(m[1]);
    }
    throw new Error(`no rule in ${table} with ${parts.join(' ')}:\n${text}`);
  }

  ipsetNames(): string[] {
    return this.exec(['ipset', 'list', '-n']).split('\n').filter((l) => l !== '').sort();
  }

  /**
   * `ipset destroy` of every set, as a firewall reset script runs it after
   * flushing the rules. The kernel drops a rule's set reference when the
   * nf_tables transaction's expressions are destroyed, which it may do from
   * a work queue after iptables returns ("in use by a kernel component"
   * meanwhile; install-rules.ts retries the same way): up to 2 s.
   */
  async destroySets(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.exec(['ipset', 'destroy']);
        return;
      } catch (e) {
        if (attempt >= 80 || !/in use by a kernel component/.test(String((e as { stderr?: unknown }).stderr))) throw e;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  async destroy(): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const p of this.#procs) {
      waits.push(new Promise((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) return resolve();
        p.once('close', () => resolve());
        p.kill('SIGKILL');
      }));
    }
    await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 3000))]);
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/** A fresh namespace with loopback up, deleted on teardown. */
export function createNs(t: Teardown, tag: string): Ns {
  reapStaleOnce();
  const name = `swk-${process.pid}-${counter++}-${tag}`;
  execFileSync('ip', ['netns', 'add', name]);
  const ns = new Ns(name);
  t.teardown(() => ns.destroy());
  ns.exec(['ip', 'link', 'set', 'lo', 'up']);
  return ns;
}

export interface NsPair {
  host: Ns;
  peer: Ns;
}

/**
 * host (HOST4, HOST6 on "vh") <-veth-> peer (PEER_A4, PEER_B4, PEER_A6,
 * PEER_B6 on "vp"). IPv6 addresses are "nodad": duplicate address detection
 * would keep them tentative, hence unusable, for a second or more.
 */
export function createPair(t: Teardown, tag: string): NsPair {
  const host = createNs(t, `${tag}h`);
  const peer = createNs(t, `${tag}p`);
  host.exec(['ip', 'link', 'add', 'vh', 'type', 'veth', 'peer', 'name', 'vp', 'netns', peer.name]);
  host.exec(['ip', 'addr', 'add', `${HOST4}/24`, 'dev', 'vh']);
  host.exec(['ip', 'addr', 'add', `${HOST6}/64`, 'dev', 'vh', 'nodad']);
  host.exec(['ip', 'link', 'set', 'vh', 'up']);
  for (const a of [PEER_A4, PEER_B4]) peer.exec(['ip', 'addr', 'add', `${a}/24`, 'dev', 'vp']);
  for (const a of [PEER_A6, PEER_B6]) peer.exec(['ip', 'addr', 'add', `${a}/64`, 'dev', 'vp', 'nodad']);
  peer.exec(['ip', 'link', 'set', 'vp', 'up']);
  return { host, peer };
}

/** Lines of a child's stdout, with waiting for one that matches. */
export class Lines {
  readonly lines: string[] = [];
  #buf = '';
  #waiters: Array<() => void> = [];
  #ended = false;

  constructor(child: ChildProcess) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      this.#buf += s;
      const parts = this.#buf.split('\n');
      this.#buf = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const w of this.#waiters.splice(0)) w();
    });
    child.on('close', () => {
      this.#ended = true;
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Wait (at most timeoutMs) for a line matching `pred`; resolves whether one came. */
  async wait(pred: (line: string) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.lines.some(pred)) return true;
      const left = deadline - Date.now();
      if (left <= 0 || this.#ended) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

const RECEIVER = `
const dgram = require('node:dgram');
const ports = process.argv.slice(1).map(Number);
let bound = 0;
for (const port of ports) {
  const s = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  s.on('message', (m, r) => process.stdout.write(port + ' ' + r.address.replace(/^::ffff:/, '') + ' ' + m.toString() + '\\n'));
  s.bind(port, '::', () => { if (++bound === ports.length) process.stdout.write('ready\\n'); });
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

const SENDER = `
const dgram = require('node:dgram');
const net = require('node:net');
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  const [src, dst, port, payload] = l.split(' ');
  const s = dgram.createSocket(net.isIP(src) === 6 ? 'udp6' : 'udp4');
  s.on('error', (e) => process.stdout.write('err ' + payload + ' ' + e.message + '\\n'));
  s.bind(0, src, () => s.send(payload, Number(port), dst, (err) => {
    process.stdout.write((err ? 'err ' : 'sent ') + payload + '\\n');
    s.close();
  }));
});
rl.on('close', () => process.exit(0));
process.stdout.write('ready\\n');
`;

let payloadSeq = 0;

/**
 * UDP from the peer namespace to the host namespace. delivered() answers
 * whether one datagram got through, without trusting a timer alone: it sends
 * the datagram, then a control datagram to CONTROL_PORT from a source that is
 * never banned, and only after the control arrived (same path, sent later)
 * plus a grace period does it conclude "dropped".
 */
export class UdpProbe {
  readonly #sender: Lines;
  readonly #receiver: Lines;
  readonly #senderProc: ChildProcess;

  private constructor(sender: ChildProcess, receiver: ChildProcess) {
    this.#senderProc = sender;
    this.#sender = new Lines(sender);
    this.#receiver = new Lines(receiver);
  }

  static async start(pair: NsPair, ports: number[] = [5060, CONTROL_PORT]): Promise<UdpProbe> {
    const receiver = pair.host.spawn(['node', '-e', RECEIVER, ...ports.map(String)]);
    const sender = pair.peer.spawn(['node', '-e', SENDER]);
    const probe = new UdpProbe(sender, receiver);
    const ok = (await probe.#receiver.wait((l) => l === 'ready', 10_000)) && (await probe.#sender.wait((l) => l === 'ready', 10_000));
    if (!ok) throw new Error('UDP probe processes did not start');
    return probe;
  }

  /** Send one datagram; resolves once the sender's kernel accepted it. Returns its unique payload. */
  async send(src: string, dst: string, port: number): Promise<string> {
    const payload = `p${process.pid}x${payloadSeq++}`;
    this.#senderProc.stdin?.write(`${src} ${dst} ${port} ${payload}\n`);
    const ok = await this.#sender.wait((l) => l === `sent ${payload}`, 5000);
    if (!ok) throw new Error(`sender did not send ${payload}: ${this.#sender.lines.filter((l) => l.startsWith('err')).join('; ')}`);
    return payload;
  }

  /** Whether the payload reached the receiver, waiting at most timeoutMs. */
  seen(payload: string, timeoutMs: number): Promise<boolean> {
    return this.#receiver.wait((l) => l.endsWith(` ${payload}`), timeoutMs);
  }

  /** Send src -> dst:port and tell whether it was delivered (see class comment). controlSrc must be a source that is never dropped. */
  async delivered(src: string, dst: string, port: number, controlSrc: string): Promise<boolean> {
    const p = await this.send(src, dst, port);
    if (await this.seen(p, 300)) return true;
    const c = await this.send(controlSrc, dst, CONTROL_PORT);
    if (!(await this.seen(c, 5000))) throw new Error(`control datagram from ${controlSrc} to ${dst}:${CONTROL_PORT} was not delivered`);
    // veth delivery goes through the per-CPU backlog: a datagram sent first
    // can in principle arrive after a later one; the grace covers that.
    return this.seen(p, 200);
  }
}

/**
 * A minimal NFQUEUE consumer (Python's AF_NETLINK socket, no library): binds
 * `queueNum` in the namespace and answers every packet with `verdict`
 * (1 = NF_ACCEPT, 0 = NF_DROP), printing "pkt" for each. Used to check what a
 * real verdict does in the kernel, independently of sipwall's own addon.
 */
const NFQUEUE_PY = String.raw`
import socket, struct, sys
q = int(sys.argv[1]); verdict = int(sys.argv[2])
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
s.bind((0, 0))
seq = [0]
def attr(t, data):
    a = struct.pack('=HH', 4 + len(data), t) + data
    return a + b'\0' * ((4 - len(a) % 4) % 4)
def send(mtype, flags, body):
    seq[0] += 1
    payload = struct.pack('BB', 0, 0) + struct.pack('!H', q) + body  # nfgenmsg: AF_UNSPEC, v0, res_id
    s.send(struct.pack('=IHHII', 16 + len(payload), (3 << 8) | mtype, flags, seq[0], 0) + payload)
def expect_ack():
    data = s.recv(65536)
    mlen, mtype = struct.unpack_from('=IH', data, 0)
    if mtype != 2 or struct.unpack_from('=i', data, 16)[0] != 0:
        print('bind failed', struct.unpack_from('=i', data, 16)[0], flush=True); sys.exit(1)
send(2, 1 | 4, attr(1, struct.pack('!BBH', 1, 0, 0)))  # NFQNL_MSG_CONFIG: NFQA_CFG_CMD BIND
expect_ack()
send(2, 1 | 4, attr(2, struct.pack('!IB', 0xffff, 1)))  # NFQA_CFG_PARAMS: copy meta only
expect_ack()
print('ready', flush=True)
while True:
    data = s.recv(65536)
    off = 0
    while off + 16 <= len(data):
        mlen, mtype = struct.unpack_from('=IH', data, off)
        if mlen < 16: break
        if mtype == (3 << 8):  # NFQNL_MSG_PACKET
            a = off + 20
            while a + 4 <= off + mlen:
                alen, atype = struct.unpack_from('=HH', data, a)
                if alen < 4: break
                if atype & 0x3fff == 1:  # NFQA_PACKET_HDR
                    pid = struct.unpack_from('!I', data, a + 4)[0]
                    send(1, 1, attr(2, struct.pack('!II', verdict, pid)))  # NFQA_VERDICT_HDR
                    print('pkt', flush=True)
                a += (alen + 3) & ~3
        off += (mlen + 3) & ~3
`;

export class NfqueueConsumer {
  readonly #lines: Lines;
  private constructor(child: ChildProcess) {
    this.#lines = new Lines(child);
  }

  static async start(ns: Ns, queueNum: number, verdict: 0 | 1): Promise<NfqueueConsumer> {
    const child = ns.spawn(['python3', '-c', NFQUEUE_PY, String(queueNum), String(verdict)]);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const c = new NfqueueConsumer(child);
    if (!(await c.#lines.wait((l) => l === 'ready', 10_000))) throw new Error(`NFQUEUE consumer did not bind: ${c.#lines.lines.join(' ')} ${err}`);
    return c;
  }

  /** Packets answered so far. */
  get packets(): number {
    return this.#lines.lines.filter((l) => l === 'pkt').length;
  }
}

/** Poll `fn` until it returns true, at most `count` times `everyMs` apart; resolves with the last answer. */
export async function pollUntil(fn: () => boolean | Promise<boolean>, count: number, everyMs: number): Promise<boolean> {
  for (let i = 0; i < count; i++) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return fn();
}
