// The iptables-restore / ip6tables-restore / ipset scripts sipwall applies.
//
// Where the queue sits. Inbound SIP is sent to NFQUEUE from the *mangle*
// table's INPUT chain, through our own chain SIPWALL. When userspace answers
// NF_ACCEPT, nf_reinject() resumes at the next hook entry registered on the
// same hook point (net/netfilter/nf_queue.c, "next_hook: ++i; nf_iterate()"):
// for INPUT that is the filter table (priority NF_IP_PRI_FILTER = 0) after
// mangle (NF_IP_PRI_MANGLE = -150). So the admin's own filter INPUT rules
// still judge every packet we accept. Queuing from filter INPUT instead would
// make our ACCEPT final for that table and skip the rest of the admin's INPUT
// rules. (test/kernel/mangle-vs-filter.test.ts checks this on a real kernel.)
// The price: mangle INPUT rules placed after our jump do not see queued
// packets; mangle INPUT rarely holds anything but MARK/CONNMARK, which can
// live in PREROUTING.
//
// Fail mode. failOpen (default) adds --queue-bypass: while no process is bound
// to the queue (sipwall crashed, is restarting, or was never started) the
// kernel treats the packet as if the queue rule were absent (nf_queue()
// returns 1 on -ESRCH with NF_VERDICT_FLAG_QUEUE_BYPASS, and nf_hook_slow()
// moves on), so the PBX keeps working, unfiltered. failOpen false omits it and
// the kernel drops queued packets when nobody listens: the PBX is safe from
// scanners but deaf to SIP until sipwall is back. Choose open where call
// availability matters more than a few minutes of scanning, closed where an
// exposed PBX must never be reachable unfiltered. (A full queue while bound is
// a separate knob, NFQA_CFG_F_FAIL_OPEN, owned by the queue binding.)
//
// Bans. Banned sources are dropped in the *raw* table's PREROUTING, through
// our chain SIPWALL-BAN matching the ipsets: before conntrack (raw runs at
// NF_IP_PRI_RAW = -300, ahead of conntrack at -200) so a flood from a banned
// source creates no conntrack entries, and before the queue so the engine
// never sees it. banScope 'sip-ports' (default) limits the drop to the SIP
// ports: a wrong ban must not lock the admin out of SSH. 'all' drops
// everything from the source (including ICMP/ICMPv6 from it).
//
// Trust mark. A trusted verdict marks the packet (NFQA_MARK); where the kernel
// has the nfnetlink conntrack glue (CONFIG_NETFILTER_NETLINK_GLUE_CT) it also
// sets the connmark directly, but many kernels lack it. So a rule in the
// *security* table's INPUT (priority NF_IP_PRI_SECURITY = 50, after mangle
// and filter) copies the mark bits to the connection: --set-xmark M/M (what
// iptables-save prints for --or-mark M) sets our bits and keeps the admin's
// other connmark bits. Later packets of that connection then fail the
// connmark test on the jump to SIPWALL and skip the queue. The security
// table is otherwise used only by SELinux/secmark rules, which are untouched.
//
// Guarded jumps. The tests that decide whether a packet has business in a
// chain of ours sit on the jump itself ("-m connmark ! --mark T/T -j
// SIPWALL", "-m mark ! --mark 0x0/M -j SIPWALL-MARK"), not as a first
// "-j RETURN" rule inside it: entering a user chain and returning from it is
// what costs (nft_do_chain pushes and pops a jump frame and walks the
// chain's rules). Measured with the inline bench's (f) setup, trusted
// traffic skipping the queue: softirq time per packet 2,557 -> 2,300-2,480
// ns, and (f)/(a) 0.78 -> 0.86-0.88. The unmarked packets that are all but
// every packet of the host (RTP included) now cost the security table one
// rule, not a chain of two. ourJump() recognises these shapes, whatever
// marks an earlier run used, so a restart replaces them.
//
// Answers. With watchAnswers, what the PBX sends from the SIP ports is
// queued too, from mangle OUTPUT through SIPWALL-OUT (--sport), to the same
// queue, always with --queue-bypass (fail-open whatever failOpen says): the engine watches the answers (a 401 to a guessed password, a 404
// to an enumerated user) and always accepts them. Trusted connections skip
// it at a guarded jump too, and the security OUTPUT chain copies a trust
// mark set on an answer (answers.trustAfterAuthSeconds) to its connection.
// The chain and its jump exist either way (empty without watchAnswers), so
// install and removal handle one shape.
//
// Which answers are queued (answerPrefilter). Most of what a PBX sends over
// UDP says nothing about an attacker: 1xx, the 401/407 challenge to a
// request without credentials (the first answer every phone gets), 2xx to
// requests without credentials. Queuing them would cost a netlink round
// trip each. So the kernel reads the first bytes of the datagram with
// xt_u32 and queues only:
//   - any packet of a connection carrying watchMark: the engine's verdict
//     (VERDICT_ACCEPT_WATCH) sets it on a request whose answer it must read,
//     one with credentials (401/407/403 are failures, 2xx a success) or an
//     INVITE (its final answer ends the call, for the call limit), and the
//     security chain copies it to the connection like the trust mark;
//   - final answers 300-699 other than 401 and 407 (403, 404, 484... reveal
//     a failure or an unknown user whoever asked);
//   - the PBX's BYE and CANCEL (they end calls).
// The status line is at a fixed place (RFC 3261 §7.2: "SIP/2.0 " then the
// code), right after the UDP header: IHL*4+8 for IPv4 (u32's "@" follows
// the header length), 48 for IPv6 without extension headers (the PBX's own
// SIP never carries one; with one the datagram is simply not queued). TCP
// answers are all queued: a segment need not start with a message.
//
// TLS ports. SIP over TLS (RFC 3261 §26.2: TCP 5061 by default, inside the
// usual 5060-5082 range) is ciphertext to us: queued, every connection's
// ClientHello would be dropped as not SIP, and every TLS phone locked out.
// So TCP to a port in tlsPorts returns from SIPWALL before the queue rule
// (and the PBX's TLS from it returns from SIPWALL-OUT): it reaches the PBX
// unjudged, as it would without sipwall. Bans still apply, in raw, before
// this: a source banned for what it did over UDP or TCP is dropped on the
// TLS port too. UDP to these ports is still queued (SIP has no DTLS transport).
//
// Ports use -m udp/-m tcp --dport FROM:TO rather than multiport: one range
// needs nothing more, iptables-nft turns it into a native nft payload match,
// and iptables-save prints it back exactly as written.

import { BAN_CHAIN, hex, MARK_CHAIN, OUT_CHAIN, QUEUE_CHAIN, type KernelOptions, validateKernelOptions, type KernelOptionsInput } from './kernel-options.js';

export type Family = 4 | 6;

export interface RenderedRules {
  /** Script for iptables-restore --noflush. */
  v4: string;
  /** Script for ip6tables-restore --noflush; '' when ipv6 is off. */
  v6: string;
  /** Script for ipset restore: the two ban sets. */
  ipset: string;
}

/**
 * Our jumps each hook chain already holds, as iptables-save prints them after
 * "-A HOOK " (installed-rules.ts recognises them, whatever mark an earlier
 * run used): install deletes them all and inserts the one it wants, in the
 * same transaction, so exactly one results and no packet sees a gap.
 */
export interface PresentJumps {
  ban: readonly string[];
  queue: readonly string[];
  mark: readonly string[];
  out: readonly string[];
  markOut: readonly string[];
}

const FRESH: PresentJumps = { ban: [], queue: [], mark: [], out: [], markOut: [] };

/** "value/mask" as iptables-save prints a mark match (no "/mask" for a full mask). */
function markSpec(value: number, mask: number): string {
  return mask >>> 0 === 0xffffffff ? hex(value) : `${hex(value)}/${hex(mask >>> 0)}`;
}

/** The jump to SIPWALL-BAN: every packet; the chain's first matches are the ports. */
const BAN_JUMP = `-j ${BAN_CHAIN}`;

/** The jump to SIPWALL or SIPWALL-OUT: connections carrying the trust mark never enter (with trustSkipQueue). */
function queueJump(opts: KernelOptions, chain: typeof QUEUE_CHAIN | typeof OUT_CHAIN): string {
  return opts.trustSkipQueue ? `-m connmark ! --mark ${markSpec(opts.trustMark, opts.trustMark)} -j ${chain}` : `-j ${chain}`;
}

/** The jump to SIPWALL-MARK: only packets carrying one of our mark bits. */
function markJump(opts: KernelOptions): string {
  const mask = opts.watchAnswers && opts.answerPrefilter ? (opts.trustMark | opts.watchMark) >>> 0 : opts.trustMark;
  return `-m mark ! --mark ${markSpec(0, mask)} -j ${MARK_CHAIN}`;
}

/** What any of the jumps above looks like in iptables-save output (after "-A HOOK "), for any marks or options. */
const OUR_JUMP: Record<string, RegExp> = {
  [BAN_CHAIN]: new RegExp(`^-j ${BAN_CHAIN}$`),
  [QUEUE_CHAIN]: new RegExp(`^(-m connmark ! --mark 0x[0-9a-f]+(/0x[0-9a-f]+)? )?-j ${QUEUE_CHAIN}$`),
  [OUT_CHAIN]: new RegExp(`^(-m connmark ! --mark 0x[0-9a-f]+(/0x[0-9a-f]+)? )?-j ${OUT_CHAIN}$`),
  [MARK_CHAIN]: new RegExp(`^(-m mark ! --mark 0x0(/0x[0-9a-f]+)? )?-j ${MARK_CHAIN}$`),
};

/**
 * Whether `spec` (a rule as iptables-save prints it, after "-A HOOK ") is a
 * jump to `chain` that renderFamily writes, with whatever marks an earlier
 * run used. Anything else that jumps to our chains is somebody else's rule.
 */
export function ourJump(chain: string, spec: string): boolean {
  return OUR_JUMP[chain]?.test(spec) ?? false;
}

// xt_u32 values (32-bit big-endian reads of the datagram's first bytes),
// written as iptables-save prints them back (lower-case hex, no spaces), so
// `rules --print` shows exactly what is installed.
/** "SIP/": a response's status line (RFC 3261 §7.2). */
const U32_SIP = '0x5349502f';
/**
 * Bytes 8-10 of the payload, the status code's three digits ("404" is
 * 0x343034): 300-699 except 401 and 407, the challenges.
 */
const U32_FINAL_NOT_CHALLENGE = '0x333030:0x343030,0x343032:0x343036,0x343038:0x363939';
/** "BYE " or "CANC": a BYE or CANCEL request from the PBX (methods are case-sensitive, §7.1). */
const U32_BYE_CANCEL = '0x42594520,0x43414e43';

/**
 * Lines that make `hook` hold exactly one `jump`, first: the ones present
 * (an earlier run's, maybe with other marks, maybe duplicated by a crash)
 * are deleted by their spec (-D removes the first match each time).
 */
function jumpLines(hook: string, jump: string, present: readonly string[]): string[] {
  return [...present.map((j) => `-D ${hook} ${j}`), `-I ${hook} 1 ${jump}`];
}

/** The restore script for one family, given the jumps already in place. */
export function renderFamily(opts: KernelOptions, family: Family, jumps: PresentJumps = FRESH): string {
  const set = family === 4 ? opts.set4 : opts.set6;
  // One port as iptables-save prints it back ("5060", not "5060:5060"), so rules-check.ts reads what it wrote.
  const range = opts.ports.from === opts.ports.to ? `${opts.ports.from}` : `${opts.ports.from}:${opts.ports.to}`;
  const dports = `--dport ${range}`;
  const lines: string[] = [];

  lines.push('*raw', `:${BAN_CHAIN} - [0:0]`);
  if (opts.banScope === 'all') {
    lines.push(`-A ${BAN_CHAIN} -m set --match-set ${set} src -j DROP`);
  } else {
    // The port before the set: matches run in the order written, and the
    // port is a native nft payload compare while the set is an xt_set
    // lookup, so RTP and the host's other traffic never pay the lookup.
    for (const proto of ['udp', 'tcp']) {
      lines.push(`-A ${BAN_CHAIN} -p ${proto} -m ${proto} ${dports} -m set --match-set ${set} src -j DROP`);
    }
  }
  lines.push(...jumpLines('PREROUTING', BAN_JUMP, jumps.ban), 'COMMIT');

  // With trustSkipQueue, trusted connections skip both chains at their jump
  // (queueJump): mark/mark, trusted means all of our bits are set, whatever
  // the admin keeps in the other bits of the conntrack mark.
  lines.push('*mangle', `:${QUEUE_CHAIN} - [0:0]`);
  const bypass = opts.failOpen ? ' --queue-bypass' : '';
  const tls = opts.tlsPorts;
  for (const p of tls) lines.push(`-A ${QUEUE_CHAIN} -p tcp -m tcp --dport ${p} -j RETURN`);
  for (const proto of ['udp', 'tcp']) {
    lines.push(`-A ${QUEUE_CHAIN} -p ${proto} -m ${proto} ${dports} -j NFQUEUE --queue-num ${opts.queueNum}${bypass}`);
  }
  lines.push(...jumpLines('INPUT', queueJump(opts, QUEUE_CHAIN), jumps.queue));
  lines.push(`:${OUT_CHAIN} - [0:0]`);
  if (opts.watchAnswers) {
    const sports = `--sport ${range}`;
    // Always --queue-bypass, whatever failOpen says: watching is observe
    // only, and with nobody bound the PBX's answers and its own requests
    // (to trunks, to phones) must still leave.
    const queue = `-j NFQUEUE --queue-num ${opts.queueNum} --queue-bypass`;
    const udp = `-A ${OUT_CHAIN} -p udp -m udp ${sports}`;
    if (opts.answerPrefilter) {
      // IPv4: skip the header by its length (IHL, the low nibble of byte 0, times 4), then the UDP header.
      const at = family === 4 ? (n: number) => `0x0>>0x16&0x3c@${hex(n)}` : (n: number) => hex(40 + n);
      lines.push(
        `${udp} -m connmark --mark ${hex(opts.watchMark)}/${hex(opts.watchMark)} ${queue}`,
        `${udp} -m u32 --u32 "${at(8)}=${U32_SIP}&&${at(16)}>>0x8=${U32_FINAL_NOT_CHALLENGE}" ${queue}`,
        `${udp} -m u32 --u32 "${at(8)}=${U32_BYE_CANCEL}" ${queue}`,
      );
    } else {
      lines.push(`${udp} ${queue}`);
    }
    for (const p of tls) lines.push(`-A ${OUT_CHAIN} -p tcp -m tcp --sport ${p} -j RETURN`);
    lines.push(`-A ${OUT_CHAIN} -p tcp -m tcp ${sports} ${queue}`);
  }
  lines.push(...jumpLines('OUTPUT', queueJump(opts, OUT_CHAIN), jumps.out), 'COMMIT');

  const mark = `${hex(opts.trustMark)}/${hex(opts.trustMark)}`;
  lines.push('*security', `:${MARK_CHAIN} - [0:0]`);
  lines.push(`-A ${MARK_CHAIN} -m mark --mark ${mark} -j CONNMARK --set-xmark ${mark}`);
  if (opts.watchAnswers && opts.answerPrefilter) {
    const watch = `${hex(opts.watchMark)}/${hex(opts.watchMark)}`;
    lines.push(`-A ${MARK_CHAIN} -m mark --mark ${watch} -j CONNMARK --set-xmark ${watch}`);
  }
  lines.push(...jumpLines('INPUT', markJump(opts), jumps.mark), ...jumpLines('OUTPUT', markJump(opts), jumps.markOut), 'COMMIT');
  return lines.join('\n') + '\n';
}

/** The `create` line for one ban set ("timeout 0": entries carry their own timeout, none by default). */
export function renderSetCreate(name: string, family: Family, maxElem: number): string {
  return `create ${name} hash:net family ${family === 4 ? 'inet' : 'inet6'} maxelem ${maxElem} timeout 0`;
}

/**
 * The exact scripts installRules applies on a host where nothing of sipwall
 * is present yet (on a host with leftovers, installRules adjusts only the
 * jump lines and skips creating sets that already exist). Pure: needs no root.
 */
export function renderRules(input: KernelOptionsInput | KernelOptions): RenderedRules {
  const opts = validateKernelOptions(input);
  const sets = [renderSetCreate(opts.set4, 4, opts.setMaxElem)];
  if (opts.ipv6) sets.push(renderSetCreate(opts.set6, 6, opts.setMaxElem));
  return {
    v4: renderFamily(opts, 4),
    v6: opts.ipv6 ? renderFamily(opts, 6) : '',
    ipset: sets.join('\n') + '\n',
  };
}
