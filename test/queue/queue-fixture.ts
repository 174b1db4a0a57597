// Test fixture for the NFQUEUE tests: a client and a server namespace
// (test/helpers/netns.ts), iptables/ip6tables rules in the server namespace
// sending UDP and TCP port 5060 to a queue, and one queue-agent.js process in
// each namespace. Everything is removed in t.teardown, also on failure.

import { type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';

export const SIP_PORT = 5060;
export const TRUST_MARK = 0x5157;

const AGENT = fileURLToPath(new URL('./queue-agent.js', import.meta.url));

// Generous: the machine is small and shared; these bound a hang, they do not
// measure speed.
const CALL_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 5_000;

// Replies are whatever the agent sent: JSON, checked by the tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Reply = Record<string, any>;

export class Agent {
  readonly #proc: ChildProcess;
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #nextId = 1;
  #stderr = '';
  #exited = false;

  constructor(pair: NetnsPair, ns: string) {
    this.#proc = pair.spawn(ns, [process.execPath, AGENT], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#proc.stderr?.on('data', (d: Buffer) => {
      if (this.#stderr.length < 20_000) this.#stderr += d.toString();
    });
    createInterface({ input: this.#proc.stdout! }).on('line', (line) => {
      let msg: Reply;
      try {
        msg = JSON.parse(line) as Reply;
      } catch {
        return;
      }
      const p = this.#pending.get(msg.id as number);
      if (p === undefined) return;
      this.#pending.delete(msg.id as number);
      clearTimeout(p.timer);
      if (msg.failed !== undefined) p.reject(new Error(`agent: ${JSON.stringify(msg.failed)}\n${this.#stderr}`));
      else p.resolve(msg);
    });
    this.#proc.on('exit', (code, signal) => {
      this.#exited = true;
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`agent exited (${String(code ?? signal)}): ${this.#stderr}`));
      }
      this.#pending.clear();
    });
  }

  get stderr(): string {
    return this.#stderr;
  }

  call(op: string, args: Record<string, unknown> = {}, timeoutMs = CALL_TIMEOUT_MS): Promise<Reply> {
    if (this.#exited) return Promise.reject(new Error(`agent already exited: ${this.#stderr}`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`agent ${op} timed out after ${timeoutMs} ms: ${this.#stderr}`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#proc.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** Asks the agent to close its queues and exit; kills it if it does not. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#proc.once('exit', () => resolve()));
    this.call('exit', {}, EXIT_TIMEOUT_MS).catch(() => undefined);
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}

export interface QueueEnv {
  pair: NetnsPair;
  server: Agent;
  client: Agent;
  queueNum: number;
  /** Runs iptables (family 4) or ip6tables (6) in the server namespace. */
  ipt(family: 4 | 6, args: string[]): string;
  /** Packet counter of the first rule of a chain (default filter INPUT) in the server namespace matching `match`. */
  ruleCount(family: 4 | 6, match: RegExp, table?: string, chain?: string): number;
  /** The server namespace's /proc/net/netfilter/nfnetlink_queue line for a queue (default: this one), parsed. */
  kernelQueue(num?: number): { portid: number; total: number; dropped: number; userDropped: number; idSequence: number } | undefined;
}

interface Teardownable {
  teardown(fn: () => void | Promise<void>): void;
}

/**
 * Namespaces, rules and agents for one test. Queue numbers of these tests are
 * taken from 100-199 so they never meet sipwall's own (5060...) in a shared
 * namespace.
 */
export async function setupQueueEnv(t: Teardownable, queueNum: number, prefix = 'swq'): Promise<QueueEnv> {
  const pair = createNetnsPair({ prefix });
  const agents: Agent[] = [];
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    pair.destroy();
  });
  const mark = `0x${TRUST_MARK.toString(16)}`;
  for (const cmd of ['iptables', 'ip6tables']) {
    const rules = [
      // Flows marked trusted skip the queue: what VERDICT_TRUST is for.
      ['-A', 'INPUT', '-p', 'udp', '--dport', String(SIP_PORT), '-m', 'connmark', '--mark', `${mark}/${mark}`, '-j', 'ACCEPT'],
      ['-A', 'INPUT', '-p', 'tcp', '--dport', String(SIP_PORT), '-m', 'connmark', '--mark', `${mark}/${mark}`, '-j', 'ACCEPT'],
      ['-A', 'INPUT', '-p', 'udp', '--dport', String(SIP_PORT), '-j', 'NFQUEUE', '--queue-num', String(queueNum)],
      ['-A', 'INPUT', '-p', 'tcp', '--dport', String(SIP_PORT), '-j', 'NFQUEUE', '--queue-num', String(queueNum)],
      // Without the conntrack glue the trust verdict only sets the packet
      // mark: the security table's INPUT runs after filter (priority 50 vs
      // 0) and copies it to the connection.
      ['-t', 'security', '-A', 'INPUT', '-m', 'mark', '--mark', `${mark}/${mark}`, '-j', 'CONNMARK', '--or-mark', mark],
    ];
    for (const r of rules) pair.run(pair.server, [cmd, '-w', ...r]);
  }
  const server = new Agent(pair, pair.server);
  agents.push(server);
  const client = new Agent(pair, pair.client);
  agents.push(client);
  return {
    pair,
    server,
    client,
    queueNum,
    ipt: (family, args) => pair.run(pair.server, [family === 4 ? 'iptables' : 'ip6tables', '-w', ...args]),
    ruleCount: (family, match, table = 'filter', chain = 'INPUT') => {
      const out = pair.run(pair.server, [family === 4 ? 'iptables' : 'ip6tables', '-w', '-t', table, '-L', chain, '-v', '-n', '-x']);
      const line = out.split('\n').find((l) => match.test(l));
      if (line === undefined) throw new Error(`no rule matching ${String(match)} in:\n${out}`);
      return Number(line.trim().split(/\s+/)[0]);
    },
    kernelQueue: (num = queueNum) => {
      const text = pair.run(pair.server, ['cat', '/proc/net/netfilter/nfnetlink_queue']);
      // queue_number peer_portid queue_total copy_mode copy_range
      // queue_dropped queue_user_dropped id_sequence 1 (nfqnl_seq_show())
      for (const line of text.split('\n')) {
        const f = line.trim().split(/\s+/).map(Number);
        if (f[0] === num && f.length >= 8) {
          return {
            portid: f[1] ?? 0,
            total: f[2] ?? 0,
            dropped: f[5] ?? 0,
            userDropped: f[6] ?? 0,
            idSequence: f[7] ?? 0,
          };
        }
      }
      return undefined;
    },
  };
}

/** Polls `check` every 50 ms until it returns true or `ms` pass; returns its last answer. */
export async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
