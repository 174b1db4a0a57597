// Which of the PBX's packets the kernel queues for the engine to read
// (render-rules.ts, "Which answers are queued"): real datagrams sent from the
// SIP port of a namespace holding sipwall's rules, counted by the rules of
// SIPWALL-OUT. The OUTPUT hook runs inside sendto(), so the counters are
// final when the sender returns. Nobody is bound to the queue: with
// --queue-bypass the packets still leave, and the counters still count.
import t from 'tap';
import { KernelError } from '../../src/errors.js';
import { CommandRunner, type RunOptions, type RunResult } from '../../src/kernel/command-runner.js';
import { installRules, removeRules } from '../../src/kernel/install-rules.js';
import { DEFAULT_KERNEL_OPTIONS } from '../../src/kernel/kernel-options.js';
import { createNs, createPair, HOST4, HOST6, PEER_A4, PEER_A6, PEER_B4, PEER_B6, type Ns } from '../helpers/kernel-ns.js';

if (process.getuid?.() !== 0) {
  t.plan(0, 'needs root for network namespaces');
  process.exit(0);
}

const OPTS = { queueNum: 214 };
const WATCH = DEFAULT_KERNEL_OPTIONS.watchMark;

/** One datagram from src:sport to dst:dport (python3: starts in ~20 ms, no library). */
const SEND_PY = String.raw`
import socket, sys
src, sport, dst, dport, payload = sys.argv[1:6]
s = socket.socket(socket.AF_INET6 if ':' in src else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((src, int(sport)))
s.sendto(payload.encode().replace(b'|', b'\r\n'), (dst, int(dport)))
`;

function send(ns: Ns, src: string, sport: number, dst: string, dport: number, payload: string): void {
  ns.exec(['python3', '-c', SEND_PY, src, String(sport), dst, String(dport), payload]);
}

/** Packets the NFQUEUE rules of SIPWALL-OUT have matched so far. */
function queuedOut(ns: Ns, family: 4 | 6): number {
  const save = ns.exec([family === 4 ? 'iptables-save' : 'ip6tables-save', '-c', '-t', 'mangle']);
  let n = 0;
  for (const m of save.matchAll(/^\[(\d+):\d+\] -A SIPWALL-OUT .*-j NFQUEUE/gm)) n += Number(m[1]);
  return n;
}

const ANSWERS: Array<[payload: string, queued: boolean, why: string]> = [
  ['SIP/2.0 100 Trying|CSeq: 1 REGISTER||', false, 'provisional'],
  ['SIP/2.0 180 Ringing|CSeq: 1 INVITE||', false, 'provisional'],
  ['SIP/2.0 401 Unauthorized|CSeq: 1 REGISTER||', false, 'the challenge every phone gets first'],
  ['SIP/2.0 407 Proxy Authentication Required|CSeq: 1 INVITE||', false, 'the proxy challenge'],
  ['SIP/2.0 200 OK|CSeq: 1 OPTIONS||', false, 'success to a request without credentials'],
  ['SIP/2.0 302 Moved Temporarily||', true, 'a final answer'],
  ['SIP/2.0 403 Forbidden||', true, 'a failure whoever asked'],
  ['SIP/2.0 404 Not Found||', true, 'an unknown user'],
  ['SIP/2.0 484 Address Incomplete||', true, 'an unknown user'],
  ['SIP/2.0 486 Busy Here||', true, 'ends a call'],
  ['SIP/2.0 400 Bad Request||', true, 'a final answer'],
  ['SIP/2.0 408 Request Timeout||', true, 'a final answer next to 407'],
  ['SIP/2.0 503 Service Unavailable||', true, 'a final answer'],
  ['SIP/2.0 603 Decline||', true, 'a final answer'],
  ['BYE sip:100@peer SIP/2.0||', true, 'the PBX ends a call'],
  ['CANCEL sip:100@peer SIP/2.0||', true, 'the PBX cancels a call'],
  ['OPTIONS sip:100@peer SIP/2.0||', false, 'the PBX qualifying a phone'],
  ['INVITE sip:100@peer SIP/2.0||', false, 'the PBX calling a phone'],
  ['\r\n\r\n', false, 'a keep-alive'],
];

t.test('without a watched connection, only answers that tell something are queued', async (t) => {
  const pair = createPair(t, 'apf');
  await installRules({ ...OPTS }, pair.host.runner);
  for (const [family, host, peer] of [[4, HOST4, PEER_A4], [6, HOST6, PEER_A6]] as const) {
    for (const [payload, queued, why] of ANSWERS) {
      const before = queuedOut(pair.host, family);
      send(pair.host, host, 5060, peer, 5999, payload);
      t.equal(queuedOut(pair.host, family) - before, queued ? 1 : 0, `IPv${family} ${JSON.stringify(payload.split('|')[0])} ${queued ? 'queued' : 'not queued'}: ${why}`);
    }
    // The same status line from a port outside the SIP range is none of ours.
    const before = queuedOut(pair.host, family);
    send(pair.host, host, 6001, peer, 5999, 'SIP/2.0 404 Not Found||');
    t.equal(queuedOut(pair.host, family) - before, 0, `IPv${family}: not from a SIP port, not queued`);
  }
});

t.test('a connection marked watched by a verdict has all its answers queued, 401s included', async (t) => {
  const pair = createPair(t, 'apw');
  await installRules({ ...OPTS }, pair.host.runner);
  // Stands in for sipwall's VERDICT_ACCEPT_WATCH, which sets the same packet
  // mark on a request (native/nfq-core.c): the packet mark of what A sends.
  for (const [cmd, a] of [['iptables', PEER_A4], ['ip6tables', PEER_A6]] as const) {
    pair.host.exec([cmd, '-t', 'mangle', '-A', 'PREROUTING', '-s', a, '-j', 'MARK', '--set-xmark', `0x${WATCH.toString(16)}/0x${WATCH.toString(16)}`]);
  }
  for (const [family, host, a, b] of [[4, HOST4, PEER_A4, PEER_B4], [6, HOST6, PEER_A6, PEER_B6]] as const) {
    for (const [peer, watched] of [[a, true], [b, false]] as const) {
      // The request: a conntrack entry, whose mark the security chain sets from the packet's.
      send(pair.peer, peer, 5070, host, 5060, 'REGISTER sip:pbx SIP/2.0|Authorization: Digest username="100"||');
      for (const status of ['401 Unauthorized', '200 OK', '100 Trying']) {
        const before = queuedOut(pair.host, family);
        send(pair.host, host, 5060, peer, 5070, `SIP/2.0 ${status}||`);
        t.equal(queuedOut(pair.host, family) - before, watched ? 1 : 0, `IPv${family} ${status} to ${watched ? 'a watched' : 'an unwatched'} connection`);
      }
    }
  }
  const ct = pair.host.exec(['iptables-save', '-t', 'security']);
  t.match(ct, `-j CONNMARK --set-xmark 0x${WATCH.toString(16)}/0x${WATCH.toString(16)}`, 'the security chain copies the watch mark');
});

/** This kernel has xt_u32; one that lacks it refuses any rule using it. Everything else is the real kernel. */
class NoU32Runner extends CommandRunner {
  refused = 0;
  override async run(command: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (command[0]?.endsWith('tables-restore') === true && (opts.input ?? '').includes(' -m u32 ')) {
      this.refused++;
      return { code: 4, stdout: '', stderr: "Warning: Extension u32 revision 0 not supported, missing kernel module?\niptables-restore v1.8.9 (nf_tables): line 12: RULE_APPEND failed (No such file or directory): rule in chain SIPWALL-OUT\n" };
    }
    return super.run(command, opts);
  }
}

t.test('a kernel without xt_u32: every answer queued, and the start is told why', async (t) => {
  const pair = createPair(t, 'apn');
  const runner = new NoU32Runner(pair.host.runner.prefix);
  const report = await installRules({ ...OPTS }, runner);
  t.equal(runner.refused, 2, 'one refused restore per family');
  t.same(report.prefilterFallback.map((f) => f.family), [4, 6], 'both families fell back');
  t.match(report.prefilterFallback[0]?.error, /u32/, 'with the kernel\'s words');
  for (const [family, host, peer] of [[4, HOST4, PEER_A4], [6, HOST6, PEER_A6]] as const) {
    const before = queuedOut(pair.host, family);
    send(pair.host, host, 5060, peer, 5999, 'SIP/2.0 401 Unauthorized||');
    send(pair.host, host, 5060, peer, 5999, 'SIP/2.0 100 Trying||');
    t.equal(queuedOut(pair.host, family) - before, 2, `IPv${family}: everything the PBX sends is queued`);
  }
  await removeRules({ ...OPTS }, runner);
  t.notMatch(pair.host.exec(['iptables-save']), /SIPWALL/, 'and removed as usual');
});

t.test('a restore that fails for another reason is not retried into success', async (t) => {
  const pair = createNs(t, 'apf2');
  // Stands for a kernel without the NFQUEUE target: every mangle section is refused.
  class Refuse extends CommandRunner {
    override async run(command: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
      if (command[0]?.endsWith('tables-restore') === true && (opts.input ?? '').includes('*mangle')) {
        return { code: 1, stdout: '', stderr: 'iptables-restore: line 9: RULE_APPEND failed (No such file or directory): rule in chain SIPWALL' };
      }
      return super.run(command, opts);
    }
  }
  await t.rejects(installRules({ ...OPTS }, new Refuse(pair.runner.prefix)), KernelError, 'the retry without the prefilter fails too, and that error is thrown');
  t.notMatch(pair.exec(['iptables-save']), /SIPWALL/, 'nothing left behind');
});
