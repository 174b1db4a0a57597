// Inline benchmark: sipwall on a real kernel path, against the alternatives,
// all measured in the same run with the same traffic and the same sink.
// A benchmark, not a test: it prints figures and ratios and asserts nothing.
//
// Topology, made fresh for every setup (so no conntrack entry, ipset, recent
// list or hashlimit bucket of one setup leaks into the next):
//
//   client ns swb-<pid>-<n>-c                  server ns swb-<pid>-<n>-s
//   sip-flood (raw socket, IP_HDRINCL)  veth  filter under test
//   sources 10.202.0.1 + i, sport 5060 ─────► sip-sink on 10.201.0.1:5060
//
// The generator writes CLOCK_MONOTONIC into each payload (the Call-ID); the
// sink subtracts it from its receive time: one clock for every namespace.
//
// Setups (the rules of each are in the functions below):
//   a   no filter
//   a-ct  no filter, conntrack switched on as in g-ct: a host whose other
//       rules already track connections (most firewalls do), the floor
//       for (f), whose connmark needs conntrack
//   b   the classic iptables recipe sipwall replaces (raw table, -m string,
//       -m recent whitelist, REGISTER rate limit by hashlimit)
//   c   npm `nfqueue` (NAN addon, one JS callback per packet), accept all
//   g   bench/nfq-consumer.c, one recv and one verdict per packet
//   g-ct  the same with conntrack switched on by sipwall's own security-table
//       CONNMARK rule (sipwall always has it): how much of (d)-(g) is conntrack
//   g-batch  nfq-consumer.c --batch: recvmmsg + one batch verdict per
//       wake-up, as sipwall's addon batches, with nothing else: what
//       batching alone buys over (g), the ceiling (d) approaches as its
//       JavaScript gets cheaper
//   d   sipwall, full JS inspection (untrusted legit REGISTERs)
//   e   sipwall, sources trusted first: answered by the native hot table
//   f   sipwall, trusted flows skip the queue (trustSkipQueue: true)
//   d-ans / d-ans-off: (d) with the sink answering every REGISTER with a
//       401 (as a PBX would), the answers watched by sipwall or not
//       (answers.watch): what watching the PBX's answers costs. The
//       REGISTERs carry no credentials, so each 401 is the challenge every
//       phone gets first, which the kernel does not queue.
//   d-ans-cred: the same, the REGISTERs carrying credentials (every 401 is
//       a failed guess, queued and read; failure limits raised so nobody is
//       banned): what reading an answer costs, the brute-force case
//   ban-sipwall / ban-bare: banned sources flooded; sipwall's raw-table
//       drop vs one bare `-m set --match-set X src -j DROP` rule
//
// Per setup: a warm-up flood, a saturation flood (delivered pps), a paced
// run at --rate pps (one-way latency), each bounded in packets and time.
// Under saturation an NFQUEUE consumer that falls behind lets the kernel
// accept the overflow unseen (fail-open: sipwall and nfq-consumer.c) or
// drop it (npm nfqueue). Packets accepted unseen are not counted as
// filtered: "inspected pps" is what reached the sink minus those.
//
// Run: npm run bench:inline [-- --quick] [-- --help]

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { cleanupSync, deleteNamespace, installCleanupHandlers, reapStale, trackNamespace, trackTmpDir } from './lib/cleanup.js';
import { metricSum } from './lib/metric-sum.js';
import { Proc } from './lib/proc.js';
import { NO_MEMORY_REDUCER } from '../src/cli/gc-tuning.js';

// ---------------------------------------------------------------- parameters

const ROOT = process.cwd();
const HELPERS = join(ROOT, 'build', 'bench');
const SIPWALL_BIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const NPM_NFQ_CONSUMER = join(ROOT, 'dist', 'bench', 'npm-nfqueue-consumer.js');
const SECRET_HOST = 'secret-7f3a.pbx.example.com';
const SERVER = '10.201.0.1';
const CLIENT = '10.201.0.2';
const SRC_BASE = '10.202.0.1';
const SRC_NET = '10.202.0.0/16';
const PORTS = '5060:5082';
const QUEUE = 5060;
const BARE_SET = 'swb-ban4';

const SETUP_IDS = ['a', 'a-ct', 'b', 'c', 'g', 'g-ct', 'g-batch', 'd', 'e', 'f', 'd-ans', 'd-ans-off', 'd-ans-cred', 'ban-sipwall', 'ban-bare'] as const;
type SetupId = (typeof SETUP_IDS)[number];

interface Params {
  quick: boolean;
  rounds: number;
  warmSeconds: number;
  satSeconds: number;
  latSeconds: number;
  rate: number;
  answersRate: number;
  sources: number;
  primeRate: number;
  batch: number;
  pin: boolean;
  genCpu: number;
  filterCpu: number;
  sinkCpu: number;
  setups: SetupId[];
  out: string;
  sipwallNodeArgs: string[];
  logDir: string | null;
}

const HELP = `Usage: npm run bench:inline -- [options]

  --quick                 1 round, short phases, 1024 sources (under 2 minutes)
  --rounds N              rounds over all setups (default 3; quick 1)
  --warm S                warm-up flood seconds per setup (default 2; quick 1)
  --sat S                 saturation flood seconds (default 5; quick 2)
  --lat S                 paced latency run seconds (default 4; quick 2)
  --rate PPS              rate of the latency run (default 10000)
  --answers-rate PPS      rate of the paced run of d-ans/d-ans-off (default 50000)
  --sources N             source addresses (default 4096; quick 1024; max 65000)
  --prime-rate PPS        rate of the one-per-source trust/ban priming (default 2000)
  --batch N               sendmmsg batch of the flood (default 64)
  --setups a,b,...        subset of ${SETUP_IDS.join(',')}
  --no-pin                do not pin generator / filter / sink to CPUs
  --cpus G,F,S            CPUs of generator, filter process, sink (default 0,1,1)
  --sipwall-node-arg ARG  extra node argument for sipwall (repeatable; e.g. --cpu-prof)
  --out FILE              results file (default bench/results/inline.json)
  --log-dir DIR           keep each sipwall's stdout/stderr there (for --trace-gc and the like)`;

function parseParams(argv: string[]): Params {
  const quick = argv.includes('--quick');
  const p: Params = {
    quick,
    rounds: quick ? 1 : 3,
    warmSeconds: quick ? 1 : 2,
    satSeconds: quick ? 2 : 5,
    latSeconds: quick ? 2 : 4,
    rate: 10_000,
    answersRate: 50_000,
    sources: quick ? 1024 : 4096,
    primeRate: 2000,
    batch: 64,
    pin: true,
    genCpu: 0,
    filterCpu: 1,
    sinkCpu: 1,
    setups: [...SETUP_IDS],
    out: join(ROOT, 'bench', 'results', 'inline.json'),
    sipwallNodeArgs: [],
    logDir: null,
  };
  const num = (v: string | undefined, name: string, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new Error(`${name}: expected a number in ${min}..${max}, got ${String(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string | undefined => argv[++i];
    switch (a) {
      case '--quick':
        break;
      case '--help':
      case '-h':
        console.log(HELP);
        process.exit(0);
        break;
      case '--rounds':
        p.rounds = Math.round(num(next(), a, 1, 10));
        break;
      case '--warm':
        p.warmSeconds = num(next(), a, 0.2, 60);
        break;
      case '--sat':
        p.satSeconds = num(next(), a, 0.5, 60);
        break;
      case '--lat':
        p.latSeconds = num(next(), a, 0.5, 60);
        break;
      case '--rate':
        p.rate = Math.round(num(next(), a, 100, 1_000_000));
        break;
      case '--answers-rate':
        p.answersRate = Math.round(num(next(), a, 100, 1_000_000));
        break;
      case '--sources':
        p.sources = Math.round(num(next(), a, 1, 65_000));
        break;
      case '--prime-rate':
        p.primeRate = Math.round(num(next(), a, 10, 100_000));
        break;
      case '--batch':
        p.batch = Math.round(num(next(), a, 1, 1024));
        break;
      case '--no-pin':
        p.pin = false;
        break;
      case '--cpus': {
        const parts = (next() ?? '').split(',').map((s) => num(s, a, 0, 1023));
        if (parts.length !== 3) throw new Error('--cpus: expected G,F,S');
        [p.genCpu, p.filterCpu, p.sinkCpu] = parts as [number, number, number];
        break;
      }
      case '--setups': {
        const ids = (next() ?? '').split(',');
        for (const id of ids) if (!(SETUP_IDS as readonly string[]).includes(id)) throw new Error(`--setups: unknown setup ${id}`);
        p.setups = SETUP_IDS.filter((id) => ids.includes(id));
        break;
      }
      case '--sipwall-node-arg':
        p.sipwallNodeArgs.push(next() ?? '');
        break;
      case '--out':
        p.out = next() ?? p.out;
        break;
      case '--log-dir':
        p.logDir = next() ?? null;
        break;
      default:
        throw new Error(`unknown option ${String(a)} (see --help)`);
    }
  }
  const ncpu = cpus().length;
  if (p.pin && Math.max(p.genCpu, p.filterCpu, p.sinkCpu) >= ncpu) throw new Error(`--cpus: this machine has ${ncpu} CPUs`);
  return p;
}

// ------------------------------------------------------------------ cleanup

// Processes, namespaces and temp dirs are registered in bench/lib/cleanup.ts
// and removed on every way out; a run killed with SIGKILL is reaped by the next.
installCleanupHandlers('inline-bench');

// ------------------------------------------------------------ small helpers

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function run(argv: string[], input?: string): string {
  return execFileSync(argv[0] as string, argv.slice(1), { input: input ?? '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
}

function nsRun(ns: string, argv: string[], input?: string): string {
  return run(['ip', 'netns', 'exec', ns, ...argv], input);
}

// ------------------------------------------------------------- namespaces

let nsCounter = 0;

interface Pair {
  client: string;
  server: string;
  destroy(): void;
}

function mac(ns: string): string {
  const m = /link\/ether ([0-9a-f:]{17})/.exec(run(['ip', '-n', ns, 'link', 'show', 'veth0']));
  if (m?.[1] === undefined) throw new Error(`no MAC on ${ns}/veth0`);
  return m[1];
}

function createPair(): Pair {
  const n = nsCounter++;
  const client = `swb-${process.pid}-${n}-c`;
  const server = `swb-${process.pid}-${n}-s`;
  const destroy = (): void => {
    for (const ns of [client, server]) deleteNamespace(ns);
  };
  try {
    for (const ns of [client, server]) {
      run(['ip', 'netns', 'add', ns]);
      trackNamespace(ns);
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // Created in the client namespace, the peer moved straight into the
    // server one: no interface ever exists in the host namespace.
    run(['ip', '-n', client, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth0', 'netns', server]);
    run(['ip', '-n', client, 'addr', 'add', `${CLIENT}/24`, 'dev', 'veth0']);
    run(['ip', '-n', server, 'addr', 'add', `${SERVER}/24`, 'dev', 'veth0']);
    for (const ns of [client, server]) run(['ip', '-n', ns, 'link', 'set', 'veth0', 'up']);
    // Permanent neighbours: no ARP on the measured path, none lost while the link comes up.
    run(['ip', '-n', client, 'neigh', 'replace', SERVER, 'lladdr', mac(server), 'dev', 'veth0', 'nud', 'permanent']);
    run(['ip', '-n', server, 'neigh', 'replace', CLIENT, 'lladdr', mac(client), 'dev', 'veth0', 'nud', 'permanent']);
    // The spoofed sources live behind the client: a route back to them, and
    // no reverse-path filter (RFC 3704 strict mode would be satisfied by the
    // route anyway; switched off so a distribution default cannot interfere).
    run(['ip', '-n', server, 'route', 'add', SRC_NET, 'via', CLIENT, 'dev', 'veth0']);
    for (const k of ['all', 'default', 'veth0']) nsRun(server, ['sysctl', '-q', '-w', `net.ipv4.conf.${k}.rp_filter=0`]);
  } catch (e) {
    destroy();
    throw e;
  }
  return { client, server, destroy };
}

// ------------------------------------------------------------- templates

interface Template {
  file: string;
  tsOffset: number;
}

const TS_PLACEHOLDER = '0000000000000000';

/** A sample message with its Call-ID replaced by the 16-hex-digit timestamp slot. */
function makeTemplate(dir: string, name: string, sample: string, edit: (text: string) => string = (x) => x): Template {
  const text = edit(readFileSync(join(ROOT, 'rules', 'samples', sample), 'latin1'));
  const out = text.replace(/\r\nCall-ID:[^\r\n]*/i, `\r\nCall-ID: ${TS_PLACEHOLDER}@swb-bench`);
  if (out === text) throw new Error(`${sample}: no Call-ID line`);
  const off = out.indexOf(`Call-ID: ${TS_PLACEHOLDER}`) + 'Call-ID: '.length;
  const file = join(dir, `${name}.sip`);
  writeFileSync(file, out, 'latin1');
  return { file, tsOffset: off };
}

// ------------------------------------------------------------- measurement

const CLK_TCK = Number(run(['getconf', 'CLK_TCK']).trim()) || 100;
const TICK_NS = 1e9 / CLK_TCK;

/** utime + stime of a process (all its threads), in ticks; null if it is gone. */
function procTicks(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // After the comm: state is field 3, utime 14, stime 15 (proc(5)).
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

interface CpuStat {
  system: number;
  softirq: number;
}

/** Machine-wide system and softirq ticks (/proc/stat is not per namespace). */
function cpuStat(): CpuStat {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return { system: f[2] ?? 0, softirq: f[6] ?? 0 };
}

interface Rule {
  table: string;
  pkts: number;
  text: string;
}

function ruleCounters(ns: string): Rule[] {
  const out: Rule[] = [];
  let table = '';
  for (const line of nsRun(ns, ['iptables-save', '-c']).split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    const m = /^\[(\d+):\d+\] (-A .*)$/.exec(line);
    if (m !== null) out.push({ table, pkts: Number(m[1]), text: m[2] as string });
  }
  return out;
}

function sumRules(rules: Rule[], table: string, ...parts: string[]): number {
  return rules.filter((r) => r.table === table && parts.every((p) => r.text.includes(p))).reduce((s, r) => s + r.pkts, 0);
}

interface QueueProc {
  dropped: number;
  userDropped: number;
  idSeq: number;
}

/** /proc/net/netfilter/nfnetlink_queue of the server namespace (only bound queues are listed). */
function queueProc(ns: string): QueueProc {
  const z = { dropped: 0, userDropped: 0, idSeq: 0 };
  let text = '';
  try {
    text = nsRun(ns, ['cat', '/proc/net/netfilter/nfnetlink_queue']);
  } catch {
    return z;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f[0] === QUEUE) return { dropped: f[5] ?? 0, userDropped: f[6] ?? 0, idSeq: f[7] ?? 0 };
  }
  return z;
}

function udpSnmp(ns: string): { inDatagrams: number; rcvbufErrors: number } {
  const lines = nsRun(ns, ['cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Udp:'));
  const names = (lines[0] ?? '').split(/\s+/);
  const vals = (lines[1] ?? '').split(/\s+/).map(Number);
  const get = (k: string): number => vals[names.indexOf(k)] ?? 0;
  return { inDatagrams: get('InDatagrams'), rcvbufErrors: get('RcvbufErrors') };
}

// ------------------------------------------------------------- processes

interface Ctx {
  params: Params;
  /** The sink answers every request (d-ans setups). */
  answering: boolean;
  pair: Pair;
  sink: Proc;
  tmp: string;
  legit: Template;
  trust: Template;
  scanner: Template;
}

type Templates = Pick<Ctx, 'legit' | 'trust' | 'scanner'> & { legitCred: Template };

function pinned(cpu: number, argv: string[], pin: boolean): string[] {
  return pin ? ['taskset', '-c', String(cpu), ...argv] : argv;
}

async function startSink(p: Params, server: string, legit: Template, answer: boolean): Promise<Proc> {
  const argv = [join(HELPERS, 'sip-sink'), '--ts-offset', String(legit.tsOffset), ...(answer ? ['--answer', '401 Unauthorized'] : [])];
  // An answering sink runs beside the generator, not beside the filter: its
  // answers' way out (and their receive in the client, same softirq) would
  // otherwise take the filter's CPU whether the filter watches them or not.
  const sink = new Proc(['ip', 'netns', 'exec', server, ...pinned(answer ? p.genCpu : p.sinkCpu, argv, p.pin)]);
  if ((await sink.waitLine((l) => l === 'ready', 10_000)) === null) throw new Error(`sink did not start: ${sink.stderr}`);
  return sink;
}

interface FloodResult {
  sent: number;
  errors: number;
  elapsedNs: number;
}

async function flood(ctx: Ctx, tmpl: Template, opts: { rate: number; count: number; seconds: number }): Promise<FloodResult> {
  const p = ctx.params;
  const argv = [
    join(HELPERS, 'sip-flood'),
    '--dst', SERVER,
    '--src-base', SRC_BASE,
    '--sources', String(p.sources),
    '--template', tmpl.file,
    '--ts-offset', String(tmpl.tsOffset),
    '--rate', String(opts.rate),
    '--count', String(Math.max(1, Math.round(opts.count))),
    '--duration', String(opts.seconds),
    '--batch', String(p.batch),
  ];
  const gen = new Proc(['ip', 'netns', 'exec', ctx.pair.client, ...pinned(p.genCpu, argv, p.pin)]);
  // Bounded by its own --duration; the grace covers a stalled exit.
  const killer = setTimeout(() => gen.alive && gen.child.kill('SIGKILL'), (opts.seconds + 15) * 1000);
  const code = await gen.exited;
  clearTimeout(killer);
  const last = gen.lines.filter((l) => l.startsWith('{')).pop();
  if (code !== 0 || last === undefined) throw new Error(`sip-flood failed (${String(code)}): ${gen.stderr}`);
  const r = JSON.parse(last) as { sent: number; errors: number; elapsed_ns: number };
  return { sent: r.sent, errors: r.errors, elapsedNs: r.elapsed_ns };
}

/** The filter under test, as the measurement loop sees it. */
interface Filter {
  /** The process whose CPU is charged to the filter; null for kernel-only setups. */
  pid(): number | null;
  /** NFQUEUE consumers that let the kernel accept overflow unseen. */
  failOpen: boolean;
  /** Where its NFQUEUE rule is, to count what was queued: [table, ...parts]. */
  queueRule: [string, ...string[]] | null;
  /** Packets the process itself has answered so far (null: only known at endPhase). */
  handled(): Promise<number | null>;
  beginPhase(): Promise<void>;
  /** Ends a phase; returns the packets answered in it if handled() could not tell. */
  endPhase(): Promise<number | null>;
  stop(): Promise<void>;
  /** Extra facts for the results (sipwall counters, rule drops...). */
  extra?(): Promise<Record<string, unknown>>;
}

/**
 * The rule sipwall installs (src/kernel/render-rules.ts), alone: any
 * connmark user makes the kernel track connections in the namespace.
 */
function conntrackOn(ns: string): void {
  nsRun(ns, ['iptables', '-t', 'security', '-A', 'INPUT', '-m', 'mark', '--mark', '0x5157/0x5157', '-j', 'CONNMARK', '--set-xmark', '0x5157/0x5157']);
}

function noFilter(): Filter {
  return {
    pid: () => null,
    failOpen: false,
    queueRule: null,
    handled: async () => null,
    beginPhase: async () => undefined,
    endPhase: async () => null,
    stop: async () => undefined,
  };
}

/** Setup (b): the hand-written iptables recipe. */
function classicRules(ns: string, p: Params): Filter {
  const yaml = parseYaml(readFileSync(join(ROOT, 'rules', 'default.yaml'), 'utf8')) as { userAgents: Record<string, { match: string; enabled?: boolean }> };
  const uas = Object.values(yaml.userAgents).filter((u) => u.enabled !== false).map((u) => u.match);
  const q = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;
  const lines = ['*raw', ':SWB-SIP - [0:0]', `-A PREROUTING -p udp -m udp --dport ${PORTS} -j SWB-SIP`];
  // Scanner User-Agents: as the recipe writes them, case-sensitive.
  for (const ua of uas) lines.push(`-A SWB-SIP -m string --string ${q(ua)} --algo bm -j DROP`);
  // Secret hostname whitelist: a packet naming it puts its source in the list; listed sources are accepted.
  lines.push(`-A SWB-SIP -m string --string ${q(SECRET_HOST)} --algo bm -m recent --set --name swbtrust --rsource`);
  lines.push('-A SWB-SIP -m recent --rcheck --seconds 3600 --name swbtrust --rsource -j ACCEPT');
  // REGISTER rate limit per source. The recipe's 20 per 10 s would drop
  // this benchmark's traffic by design, so it is raised like sipwall's in
  // (d) (65000 per 10 s): 6500/s per source. hashlimit, because -m recent
  // cannot count past ip_pkt_list_tot (at most 255) hits.
  lines.push(
    `-A SWB-SIP -m string --string ${q('REGISTER sip:')} --algo bm -m hashlimit --hashlimit-above 6500/sec --hashlimit-burst 10000 --hashlimit-mode srcip --hashlimit-name swbreg --hashlimit-htable-size ${Math.max(1024, p.sources * 2)} --hashlimit-htable-max ${Math.max(2048, p.sources * 4)} -j DROP`,
  );
  lines.push('COMMIT', '');
  nsRun(ns, ['iptables-restore', '--noflush'], lines.join('\n'));
  return {
    ...noFilter(),
    // Sanity: the legit traffic must pass; any drop here would be semantic, not speed.
    extra: async () => ({ uaRules: uas.length, droppedByRules: sumRules(ruleCounters(ns), 'raw', '-A SWB-SIP', '-j DROP'), rules: lines.filter((l) => l.startsWith('-A')) }),
  };
}

function queueRuleInstall(ns: string): void {
  // Where sipwall queues from (mangle INPUT), with --queue-bypass like sipwall's default.
  nsRun(ns, ['iptables', '-t', 'mangle', '-A', 'INPUT', '-p', 'udp', '-m', 'udp', '--dport', PORTS, '-j', 'NFQUEUE', '--queue-num', String(QUEUE), '--queue-bypass']);
}

/** Setup (c): npm nfqueue. */
async function npmNfqueue(ctx: Ctx): Promise<Filter> {
  const p = ctx.params;
  const proc = new Proc(['ip', 'netns', 'exec', ctx.pair.server, ...pinned(p.filterCpu, ['node', NPM_NFQ_CONSUMER, String(QUEUE), String(8 * 1024 * 1024)], p.pin)]);
  if ((await proc.waitLine((l) => l === 'ready', 15_000)) === null) {
    await proc.stop(1000);
    throw new NotBuildable(`npm nfqueue consumer did not start: ${proc.stderr.trim().split('\n').slice(0, 6).join(' | ')}`);
  }
  queueRuleInstall(ctx.pair.server);
  return {
    pid: () => proc.pid,
    failOpen: false, // the package sets no NFQA_CFG_F_FAIL_OPEN: a full queue drops
    queueRule: ['mangle', '-j NFQUEUE', '-p udp'],
    handled: async () => Number((await proc.request('report')).packets),
    beginPhase: async () => undefined,
    endPhase: async () => null,
    stop: async () => {
      await proc.stop(3000);
    },
  };
}

/**
 * Setups (g), (g-ct), (g-batch): bench/nfq-consumer.c, batching `batch`
 * datagrams per wake-up (0: one recv and one verdict per packet). It
 * reports its count only when it exits, so it runs once per phase.
 */
async function cConsumer(ctx: Ctx, conntrack: boolean, batch: number): Promise<Filter> {
  const p = ctx.params;
  queueRuleInstall(ctx.pair.server);
  if (conntrack) conntrackOn(ctx.pair.server);
  let proc: Proc | null = null;
  return {
    pid: () => proc?.pid ?? null,
    failOpen: true, // it binds with NFQA_CFG_F_FAIL_OPEN
    queueRule: ['mangle', '-j NFQUEUE', '-p udp'],
    handled: async () => null,
    beginPhase: async () => {
      proc = new Proc(['ip', 'netns', 'exec', ctx.pair.server, ...pinned(p.filterCpu, [join(HELPERS, 'nfq-consumer'), ...(batch > 0 ? ['--batch', String(batch)] : []), String(QUEUE)], p.pin)]);
      // It prints nothing when bound: wait until the kernel lists the queue.
      for (let i = 0; i < 100; i++) {
        if (nsRun(ctx.pair.server, ['cat', '/proc/net/netfilter/nfnetlink_queue']).split('\n').some((l) => Number(l.trim().split(/\s+/)[0]) === QUEUE)) return;
        if (!proc.alive) break;
        await sleep(20);
      }
      throw new Error(`nfq-consumer did not bind: ${proc.stderr}`);
    },
    endPhase: async () => {
      if (proc === null) return null;
      const pr = proc;
      proc = null;
      await pr.stop(3000);
      const m = /packets (\d+)/.exec(pr.lines.join('\n'));
      if (m === null) throw new Error(`nfq-consumer printed no count: ${pr.stderr}`);
      return Number(m[1]);
    },
    stop: async () => {
      if (proc !== null) await proc.stop(3000);
    },
  };
}

/** Setups (d), (e), (f), ban-sipwall: `sipwall start` in the server namespace. */
async function sipwall(ctx: Ctx, trustSkipQueue: boolean, watchAnswers = true, answersYaml: string[] = []): Promise<Filter & { metrics(): string }> {
  const p = ctx.params;
  const dir = mkdtempSync(join(ctx.tmp, 'sipwall-'));
  const cfg = join(dir, 'sipwall.yaml');
  writeFileSync(
    cfg,
    [
      'secretHosts:',
      `  - ${SECRET_HOST}`,
      'rateLimits:',
      '  register: {limit: 65000}',
      '  all: {limit: 65000}',
      'answers:',
      `  watch: ${String(watchAnswers)}`,
      ...answersYaml.map((l) => `  ${l}`),
      'inline:',
      `  trustSkipQueue: ${String(trustSkipQueue)}`,
      `stateFile: ${join(dir, 'bans.json')}`,
      `control: {socket: ${join(dir, 'control.sock')}, group: ""}`,
      '',
    ].join('\n'),
  );
  const proc = new Proc(['ip', 'netns', 'exec', ctx.pair.server, ...pinned(p.filterCpu, ['node', NO_MEMORY_REDUCER, ...p.sipwallNodeArgs, SIPWALL_BIN, 'start', '--config', cfg], p.pin)]);
  if ((await proc.waitLine((l) => l.includes('"event":"start"'), 30_000)) === null) {
    await proc.stop(2000);
    throw new Error(`sipwall did not start: ${proc.lines.slice(-5).join('\n')} ${proc.stderr}`);
  }
  const metrics = (): string => nsRun(ctx.pair.server, ['curl', '-sf', '--max-time', '5', 'http://127.0.0.1:9467/metrics']);
  // Process start in ns of CLOCK_MONOTONIC-like boot time (/proc/PID/stat field 22), to line up
  // --trace-gc timestamps (ms since start) with the sink's receive times.
  const startedNs = (() => {
    try {
      const st = readFileSync(`/proc/${proc.pid}/stat`, 'utf8');
      return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[19]) * TICK_NS;
    } catch {
      return null;
    }
  })();
  return {
    pid: () => proc.pid,
    failOpen: true, // inline.failOpen default: --queue-bypass + NFQA_CFG_F_FAIL_OPEN
    // Inbound only: the rule of chain SIPWALL, not SIPWALL-OUT's (the answers).
    queueRule: ['mangle', '-A SIPWALL -p udp', '-j NFQUEUE'],
    handled: async () => {
      const m = metrics();
      // The answers the engine watched came through the queue too: not inbound packets.
      return metricSum(m, 'sipwall_queue_packets_total') - metricSum(m, 'sipwall_packets_total', 'reason="answer"');
    },
    beginPhase: async () => undefined,
    endPhase: async () => null,
    metrics,
    stop: async () => {
      const code = await proc.stop(15_000);
      if (p.logDir !== null) {
        mkdirSync(p.logDir, { recursive: true });
        writeFileSync(join(p.logDir, `${ctx.pair.server}.log`), `--- process start ${String(startedNs)} ns\n${proc.lines.join('\n')}\n--- stderr\n${proc.stderr}`);
      }
      const stopLine = proc.lines.find((l) => l.includes('"event":"stop"'));
      if (code !== 0 || stopLine === undefined) console.error(`  sipwall exited ${String(code)}: ${proc.lines.slice(-3).join(' ')} ${proc.stderr.slice(0, 500)}`);
    },
    extra: async () => {
      const m = metrics();
      return {
        packetsToJs: metricSum(m, 'sipwall_queue_to_engine_packets_total'),
        hotHits: metricSum(m, 'sipwall_native_hot_hits_total'),
        failOpen: metricSum(m, 'sipwall_queue_fail_open_total'),
        enobufs: metricSum(m, 'sipwall_queue_enobufs_total'),
        trusts: metricSum(m, 'sipwall_trusts_total'),
        bans: metricSum(m, 'sipwall_bans_total'),
        dropped: metricSum(m, 'sipwall_packets_total', 'verdict="drop"'),
      };
    },
  };
}

class NotBuildable extends Error {}

// ------------------------------------------------------------- phases

interface Phase {
  kind: 'warm' | 'sat' | 'lat' | 'ban';
  genSent: number;
  genErrors: number;
  genSeconds: number;
  genPps: number;
  sinkPackets: number;
  /** Answers the sink sent back (d-ans setups). */
  sinkAnswered: number;
  /** NFQUEUE rule hits. */
  queued: number;
  /** Packets the consumer process answered. */
  handled: number | null;
  /** Dropped by the kernel because the queue or the consumer's socket was full (fail-closed consumers). */
  queueDropped: number;
  /** Accepted by the kernel without being seen (fail-open overflow). */
  bypassed: number;
  /** Delivered to the sink and judged by the filter. */
  inspected: number;
  inspectedPps: number;
  sinkRcvbufErrors: number;
  filterCpuNs: number | null;
  filterCpuNsPerPkt: number | null;
  softirqNs: number;
  systemNs: number;
  softirqNsPerPkt: number;
  systemNsPerPkt: number;
  /** Packets dropped by the ban rule (ban phases). */
  banDropped: number;
  banDropPps: number;
  latency: { samples: number; p50: number; p90: number; p99: number; p999: number; max: number; over1ms: number; worstAtMs: number; firstRxNs: number } | null;
}

async function phase(ctx: Ctx, f: Filter, kind: Phase['kind'], tmpl: Template, banRule: [string, ...string[]] | null): Promise<Phase> {
  const p = ctx.params;
  const s = ctx.pair.server;
  await f.beginPhase();
  await ctx.sink.request('reset');
  const pid = f.pid();
  const t0 = pid !== null ? procTicks(pid) : null;
  const h0 = await f.handled();
  const r0 = ruleCounters(s);
  const q0 = queueProc(s);
  const u0 = udpSnmp(s);
  const c0 = cpuStat();

  const seconds = kind === 'warm' ? p.warmSeconds : kind === 'lat' ? p.latSeconds : p.satSeconds;
  const paced = pacedRate(p, ctx.answering);
  const rate = kind === 'lat' ? paced : 0;
  // Count bound: far above what the generator reaches (it stops on time first).
  const count = kind === 'lat' ? paced * p.latSeconds : seconds * 5_000_000;
  const gen = await flood(ctx, tmpl, { rate, count, seconds });
  await sleep(400); // let the queue and the sink drain

  const c1 = cpuStat();
  const t1 = pid !== null ? procTicks(pid) : null;
  const h1 = await f.handled();
  const r1 = ruleCounters(s);
  const q1 = queueProc(s);
  const u1 = udpSnmp(s);
  const rep = await ctx.sink.request('report');
  const ended = await f.endPhase();

  const genSeconds = gen.elapsedNs / 1e9;
  const queued = f.queueRule !== null ? sumRules(r1, ...f.queueRule) - sumRules(r0, ...f.queueRule) : 0;
  const handled = ended ?? (h0 !== null && h1 !== null ? h1 - h0 : null);
  const queueDropped = q1.dropped - q0.dropped + (q1.userDropped - q0.userDropped);
  const bypassed = f.failOpen && handled !== null ? Math.max(0, queued - handled - queueDropped) : 0;
  const sinkPackets = Number(rep.packets);
  const inspected = Math.max(0, sinkPackets - bypassed);
  const cpuNs = t0 !== null && t1 !== null ? (t1 - t0) * TICK_NS : null;
  const per = (x: number): number => (inspected > 0 ? x / inspected : 0);
  const banDropped = banRule !== null ? sumRules(r1, ...banRule) - sumRules(r0, ...banRule) : 0;
  return {
    kind,
    genSent: gen.sent,
    genErrors: gen.errors,
    genSeconds,
    genPps: gen.sent / genSeconds,
    sinkPackets,
    sinkAnswered: Number(rep.answered ?? 0),
    queued,
    handled,
    queueDropped,
    bypassed,
    inspected,
    inspectedPps: inspected / genSeconds,
    sinkRcvbufErrors: u1.rcvbufErrors - u0.rcvbufErrors,
    filterCpuNs: cpuNs,
    filterCpuNsPerPkt: cpuNs !== null && inspected > 0 ? cpuNs / inspected : null,
    softirqNs: (c1.softirq - c0.softirq) * TICK_NS,
    systemNs: (c1.system - c0.system) * TICK_NS,
    softirqNsPerPkt: per((c1.softirq - c0.softirq) * TICK_NS),
    systemNsPerPkt: per((c1.system - c0.system) * TICK_NS),
    banDropped,
    banDropPps: banDropped / genSeconds,
    latency:
      kind === 'lat'
        ? {
            samples: Number(rep.samples),
            p50: Number(rep.p50_ns) / 1000,
            p90: Number(rep.p90_ns) / 1000,
            p99: Number(rep.p99_ns) / 1000,
            p999: Number(rep.p999_ns) / 1000,
            max: Number(rep.max_ns) / 1000,
            over1ms: Number(rep.over_1ms),
            worstAtMs: Number(rep.worst_at_ms),
            firstRxNs: Number(rep.first_rx_ns),
          }
        : null,
  };
}

/** One packet from each source, paced; returns when sipwall counted them (or after 10 s). */
async function prime(ctx: Ctx, tmpl: Template, done: () => boolean): Promise<number> {
  const p = ctx.params;
  await flood(ctx, tmpl, { rate: p.primeRate, count: p.sources, seconds: p.sources / p.primeRate + 5 });
  const t0 = Date.now();
  while (!done() && Date.now() - t0 < 10_000) await sleep(100);
  return (Date.now() - t0) / 1000;
}

function ipsetCount(ns: string, set: string): number {
  const m = /Number of entries: (\d+)/.exec(nsRun(ns, ['ipset', 'list', set, '-t']));
  return m === null ? 0 : Number(m[1]);
}

interface SetupResult {
  id: SetupId;
  ok: boolean;
  error?: string;
  notBuildable?: boolean;
  primeSeconds?: number;
  primed?: number;
  warm?: Phase;
  sat?: Phase;
  lat?: Phase;
  ban?: Phase;
  extra?: Record<string, unknown>;
}

/** What a banned-flood setup passes to the next one: the ban set's contents. */
let savedBanSet: string | null = null;

/** The setups whose sink answers every request (see the file comment): paced at --answers-rate, not --rate. */
function isAnswering(id: SetupId): boolean {
  return id === 'd-ans' || id === 'd-ans-off' || id === 'd-ans-cred';
}

/**
 * The rate a setup's latency run is paced at. The answer setups pace theirs
 * faster: at 10k pps a filter wakes per packet and the wake-up, not the
 * work, is what its CPU per packet shows.
 */
function pacedRate(p: Params, answering: boolean): number {
  return answering ? p.answersRate : p.rate;
}

/** "10k" for 10000: the paced rate of a setup, as the round lines print it. */
function pacedLabel(p: Params, id: SetupId): string {
  const rate = pacedRate(p, isAnswering(id));
  return rate % 1000 === 0 ? `${rate / 1000}k` : String(rate);
}

async function runSetup(p: Params, id: SetupId, dir: string, tt: Templates): Promise<SetupResult> {
  // The flood of the answer setups: d-ans-cred's REGISTERs carry credentials.
  const t = { ...tt, legit: id === 'd-ans-cred' ? tt.legitCred : tt.legit };
  const answering = isAnswering(id);
  const pair = createPair();
  let filter: Filter | null = null;
  let sink: Proc | null = null;
  const res: SetupResult = { id, ok: false };
  try {
    sink = await startSink(p, pair.server, t.legit, answering);
    const ctx: Ctx = { params: p, pair, sink, tmp: dir, answering, legit: t.legit, trust: t.trust, scanner: t.scanner };
    switch (id) {
      case 'a':
        filter = noFilter();
        break;
      case 'a-ct':
        conntrackOn(pair.server);
        filter = noFilter();
        break;
      case 'b':
        filter = classicRules(pair.server, p);
        break;
      case 'c':
        filter = await npmNfqueue(ctx);
        break;
      case 'g':
      case 'g-ct':
        filter = await cConsumer(ctx, id === 'g-ct', 0);
        break;
      case 'g-batch':
        filter = await cConsumer(ctx, false, p.batch);
        break;
      case 'd':
        filter = await sipwall(ctx, false);
        break;
      case 'd-ans':
      case 'd-ans-off':
        filter = await sipwall(ctx, false, id === 'd-ans');
        break;
      case 'd-ans-cred':
        // Every 401 counts as a failure: limits far above what 4096 sources reach, so nobody is banned.
        filter = await sipwall(ctx, false, true, ['authFailures: [{limit: 65000, windowSeconds: 1}]']);
        break;
      case 'e':
      case 'f': {
        const sw = await sipwall(ctx, id === 'f');
        filter = sw;
        // Each source names the secret host once: trusted from then on.
        res.primeSeconds = await prime(ctx, t.trust, () => metricSum(sw.metrics(), 'sipwall_trusts_total') >= p.sources);
        res.primed = metricSum(sw.metrics(), 'sipwall_trusts_total');
        break;
      }
      case 'ban-sipwall': {
        const sw = await sipwall(ctx, true);
        filter = sw;
        // A real ban: one friendly-scanner OPTIONS per source, judged by the engine.
        res.primeSeconds = await prime(ctx, t.scanner, () => ipsetCount(pair.server, 'sipwall-ban4') >= p.sources);
        res.primed = ipsetCount(pair.server, 'sipwall-ban4');
        savedBanSet = nsRun(pair.server, ['ipset', 'save', 'sipwall-ban4']);
        break;
      }
      case 'ban-bare': {
        if (savedBanSet === null) throw new Error('ban-bare needs ban-sipwall first (same set contents)');
        // The same entries (and the same set type, flags and timeouts) under another name.
        nsRun(pair.server, ['ipset', 'restore'], savedBanSet.split('sipwall-ban4').join(BARE_SET));
        res.primed = ipsetCount(pair.server, BARE_SET);
        nsRun(pair.server, ['iptables', '-t', 'raw', '-A', 'PREROUTING', '-m', 'set', '--match-set', BARE_SET, 'src', '-j', 'DROP']);
        filter = noFilter();
        break;
      }
    }
    if (filter === null) throw new Error('no filter');
    if (id === 'ban-sipwall' || id === 'ban-bare') {
      const rule: [string, ...string[]] = id === 'ban-sipwall' ? ['raw', '--match-set sipwall-ban4 src', '-j DROP'] : ['raw', `--match-set ${BARE_SET} src`, '-j DROP'];
      res.ban = await phase(ctx, filter, 'ban', t.legit, rule);
    } else {
      res.warm = await phase(ctx, filter, 'warm', t.legit, null);
      res.sat = await phase(ctx, filter, 'sat', t.legit, null);
      res.lat = await phase(ctx, filter, 'lat', t.legit, null);
    }
    if (filter.extra !== undefined) res.extra = await filter.extra();
    res.ok = true;
  } catch (e) {
    res.error = (e as Error).message;
    res.notBuildable = e instanceof NotBuildable;
  } finally {
    try {
      await filter?.stop();
    } catch (e) {
      res.error ??= `stop: ${(e as Error).message}`;
    }
    if (sink !== null) await sink.stop(2000);
    pair.destroy();
  }
  return res;
}

// ------------------------------------------------------------- report

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}

interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

function stat(xs: Array<number | null | undefined>): Stat | null {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

const LABELS: Record<SetupId, string> = {
  a: '(a) no filter',
  'a-ct': '(a) + conntrack',
  b: '(b) iptables recipe',
  c: '(c) npm nfqueue',
  g: '(g) nfq-consumer.c',
  'g-ct': '(g) + conntrack',
  'g-batch': '(g) batched C',
  d: '(d) sipwall JS',
  e: '(e) sipwall hot table',
  f: '(f) sipwall skip queue',
  'd-ans': '(d) + answers watched',
  'd-ans-off': '(d) + answers unwatched',
  'd-ans-cred': '(d) + answers read',
  'ban-sipwall': 'banned: sipwall raw',
  'ban-bare': 'banned: bare set rule',
};

// 'latCpuInverse': filter CPU per inbound packet in the paced run, den/num:
// how much more each inbound packet costs with the answers watched. (At
// saturation the answering sink and the watched answers compete with the
// filter and the generator for the two CPUs, which skews a pps ratio; at a
// fixed rate the filter's own CPU per packet is what watching adds.)
// min null: a figure to report, with no target of its own.
const TARGETS: Array<{ name: string; num: SetupId; den: SetupId; min: number | null; field: 'inspectedPps' | 'banDropPps' | 'latCpuInverse' }> = [
  { name: '(d)/(c)', num: 'd', den: 'c', min: 2, field: 'inspectedPps' },
  { name: '(d)/(b)', num: 'd', den: 'b', min: 1.3, field: 'inspectedPps' },
  { name: '(d)/(g)', num: 'd', den: 'g', min: 1.0, field: 'inspectedPps' },
  { name: '(g batched)/(g)', num: 'g-batch', den: 'g', min: null, field: 'inspectedPps' },
  { name: '(d)/(g batched)', num: 'd', den: 'g-batch', min: null, field: 'inspectedPps' },
  { name: '(e)/(d)', num: 'e', den: 'd', min: 1.5, field: 'inspectedPps' },
  { name: '(f)/(a)', num: 'f', den: 'a', min: 0.8, field: 'inspectedPps' },
  { name: '(f)/(a + conntrack)', num: 'f', den: 'a-ct', min: null, field: 'inspectedPps' },
  { name: 'answers: cpu/pkt unwatched/watched', num: 'd-ans', den: 'd-ans-off', min: 0.9, field: 'latCpuInverse' },
  { name: 'answers read (401 to credentials): cpu/pkt', num: 'd-ans-cred', den: 'd-ans-off', min: null, field: 'latCpuInverse' },
  { name: 'banned sipwall/bare', num: 'ban-sipwall', den: 'ban-bare', min: 0.9, field: 'banDropPps' },
];
const P99_TARGET_US = 200;
/** Share of the offered packets a filter must have lost to its queue's overflow to count as saturated. */
const OVERFLOW_SATURATED = 0.005;

function fmt(x: number | null | undefined, digits = 0): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function fmtStat(s: Stat | null, digits = 0, scale = 1): string {
  if (s === null) return 'n/a';
  if (s.n === 1) return fmt(s.median / scale, digits);
  return `${fmt(s.median / scale, digits)} [${fmt(s.min / scale, digits)}-${fmt(s.max / scale, digits)}]`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

async function main(): Promise<void> {
  const p = parseParams(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, iptables, NFQUEUE)');
  for (const f of [join(HELPERS, 'sip-flood'), join(HELPERS, 'sip-sink'), join(HELPERS, 'nfq-consumer')]) {
    if (!existsSync(f)) throw new Error(`${f} missing: run sh bench/build-inline-helpers.sh (npm run bench:inline does)`);
  }
  if (!existsSync(SIPWALL_BIN)) throw new Error(`${SIPWALL_BIN} missing: npm run build`);
  if (!existsSync(join(ROOT, 'build', 'Release', 'sipwall_nfq.node'))) throw new Error('build/Release/sipwall_nfq.node missing: npm run build:native');
  reapStale('swb');
  const dir = mkdtempSync(join(tmpdir(), `swb-${process.pid}-`));
  trackTmpDir(dir);
  const templates = {
    // A real phone's REGISTER (Zoiper), not naming the secret host.
    legit: makeTemplate(dir, 'legit', 'rate-register/register.sip'),
    // The same with credentials (a wrong password: the sink's 401 is a failed guess).
    legitCred: makeTemplate(dir, 'legit-cred', 'rate-register/register.sip', (x) =>
      x.replace('\r\nContent-Length:', '\r\nAuthorization: Digest username="1001", realm="pbx", nonce="swb", uri="sip:203.0.113.10", response="00000000000000000000000000000000", algorithm=MD5\r\nContent-Length:'),
    ),
    // The same phone registering to the secret host: makes its source trusted.
    trust: makeTemplate(dir, 'trust', '_legit/zoiper-register-secret.sip'),
    // svmap's OPTIONS (User-Agent: friendly-scanner): gets its source banned.
    scanner: makeTemplate(dir, 'scanner', 'friendly-scanner/svmap-options.sip'),
  };
  const started = Date.now();
  const kernel = run(['uname', '-r']).trim();
  console.log(`inline bench: ${p.rounds} round(s), setups ${p.setups.join(' ')}, ${p.sources} sources, sat ${p.satSeconds}s, latency ${p.latSeconds}s at ${p.rate} pps, warm ${p.warmSeconds}s`);
  console.log(`node ${process.version}, kernel ${kernel}, ${cpus().length} CPUs, ${p.pin ? `pinned: generator cpu${p.genCpu}, filter cpu${p.filterCpu}, sink cpu${p.sinkCpu}` : 'not pinned'}`);

  const rounds: Array<Partial<Record<SetupId, SetupResult>>> = [];
  for (let r = 0; r < p.rounds; r++) {
    const round: Partial<Record<SetupId, SetupResult>> = {};
    rounds.push(round);
    savedBanSet = null;
    for (const id of p.setups) {
      const t0 = Date.now();
      const res = await runSetup(p, id, dir, templates);
      round[id] = res;
      const ph = res.sat ?? res.ban;
      const line = !res.ok
        ? `FAILED: ${res.error ?? ''}`
        : res.ban !== undefined
          ? `gen ${fmt(ph?.genPps)} pps, dropped ${fmt(res.ban.banDropPps)} pps, sink ${res.ban.sinkPackets}, banned ${String(res.primed)}`
          : `inspected ${fmt(res.sat?.inspectedPps)} pps (gen ${fmt(res.sat?.genPps)}, bypassed ${fmt(res.sat?.bypassed)}, kdrop ${fmt(res.sat?.queueDropped)}), ${pacedLabel(p, id)} p50/p99 ${fmt(res.lat?.latency?.p50, 1)}/${fmt(res.lat?.latency?.p99, 1)} us, cpu ${fmt(res.sat?.filterCpuNsPerPkt)} ns/pkt`;
      console.log(`  round ${r + 1} ${pad(LABELS[id], 24)} ${line}  [${((Date.now() - t0) / 1000).toFixed(1)} s]`);
    }
  }

  // Per setup: medians over rounds. Added latency and ratios are taken within a round, then the median.
  const get = (id: SetupId, fn: (s: SetupResult) => number | null | undefined): Array<number | null | undefined> => rounds.map((r) => (r[id]?.ok === true ? fn(r[id] as SetupResult) : null));
  const summary: Record<string, unknown> = {};
  const limitedBy: Partial<Record<SetupId, string>> = {};
  const rows: string[][] = [];
  for (const id of p.setups) {
    const results = rounds.map((r) => r[id]).filter((x): x is SetupResult => x !== undefined);
    const failed = results.find((x) => !x.ok);
    if (results.every((x) => !x.ok)) {
      summary[id] = { status: failed?.notBuildable === true ? 'not buildable' : 'failed', error: failed?.error };
      rows.push([LABELS[id], failed?.notBuildable === true ? 'not buildable' : `failed: ${failed?.error ?? ''}`.slice(0, 60)]);
      continue;
    }
    if (id === 'ban-sipwall' || id === 'ban-bare') {
      const s = {
        genPps: stat(get(id, (x) => x.ban?.genPps)),
        dropPps: stat(get(id, (x) => x.ban?.banDropPps)),
        sinkPackets: stat(get(id, (x) => x.ban?.sinkPackets)),
        bannedSources: stat(get(id, (x) => x.primed)),
        softirqNsPerDrop: stat(get(id, (x) => (x.ban !== undefined && x.ban.banDropped > 0 ? x.ban.softirqNs / x.ban.banDropped : null))),
      };
      summary[id] = s;
      rows.push([LABELS[id], `gen ${fmtStat(s.genPps)}`, `dropped ${fmtStat(s.dropPps)} pps`, `leaked to sink ${fmtStat(s.sinkPackets)}`]);
      continue;
    }
    const addedP50 = get(id, (x) => {
      const r = rounds.find((rr) => rr[id] === x);
      const a = r?.a?.lat?.latency;
      return a !== undefined && a !== null && x.lat?.latency !== null && x.lat?.latency !== undefined ? x.lat.latency.p50 - a.p50 : null;
    });
    const addedP99 = get(id, (x) => {
      const r = rounds.find((rr) => rr[id] === x);
      const a = r?.a?.lat?.latency;
      return a !== undefined && a !== null && x.lat?.latency !== null && x.lat?.latency !== undefined ? x.lat.latency.p99 - a.p99 : null;
    });
    const s = {
      inspectedPps: stat(get(id, (x) => x.sat?.inspectedPps)),
      genPps: stat(get(id, (x) => x.sat?.genPps)),
      bypassedShare: stat(get(id, (x) => (x.sat !== undefined && x.sat.genSent > 0 ? x.sat.bypassed / x.sat.genSent : null))),
      overflowShare: stat(get(id, (x) => (x.sat !== undefined && x.sat.genSent > 0 ? (x.sat.bypassed + x.sat.queueDropped) / x.sat.genSent : null))),
      kernelDroppedShare: stat(get(id, (x) => (x.sat !== undefined && x.sat.genSent > 0 ? x.sat.queueDropped / x.sat.genSent : null))),
      p50Us: stat(get(id, (x) => x.lat?.latency?.p50)),
      p99Us: stat(get(id, (x) => x.lat?.latency?.p99)),
      addedP50Us: stat(addedP50),
      addedP99Us: stat(addedP99),
      latencyLost: stat(get(id, (x) => (x.lat !== undefined ? x.lat.genSent - x.lat.sinkPackets : null))),
      latencyBypassed: stat(get(id, (x) => x.lat?.bypassed)),
      filterCpuNsPerPktSat: stat(get(id, (x) => x.sat?.filterCpuNsPerPkt)),
      filterCpuNsPerPktLat: stat(get(id, (x) => x.lat?.filterCpuNsPerPkt)),
      softirqNsPerPktSat: stat(get(id, (x) => x.sat?.softirqNsPerPkt)),
      systemNsPerPktSat: stat(get(id, (x) => x.sat?.systemNsPerPkt)),
      sinkRcvbufErrorsSat: stat(get(id, (x) => x.sat?.sinkRcvbufErrors)),
    };
    // Whoever ran out first: the filter (its queue overflowed) or the generator's CPU (which also runs the kernel receive path).
    const limit = s.overflowShare === null ? 'n/a' : s.overflowShare.median > OVERFLOW_SATURATED ? 'filter' : 'generator';
    summary[id] = { ...s, limitedBy: limit };
    limitedBy[id] = limit;
    rows.push([
      LABELS[id],
      fmtStat(s.inspectedPps),
      fmtStat(s.genPps),
      fmtStat(s.overflowShare, 1, 0.01) + '%',
      limit,
      fmtStat(s.p50Us, 1),
      fmtStat(s.p99Us, 1),
      id === 'a' ? '-' : fmtStat(s.addedP50Us, 1),
      id === 'a' ? '-' : fmtStat(s.addedP99Us, 1),
      fmtStat(s.filterCpuNsPerPktSat),
      fmtStat(s.filterCpuNsPerPktLat),
      fmtStat(s.softirqNsPerPktSat),
    ]);
  }

  const ratios: Array<Record<string, unknown>> = [];
  for (const tg of TARGETS) {
    if (!p.setups.includes(tg.num) || !p.setups.includes(tg.den)) continue;
    const per = rounds.map((r) => {
      const a = r[tg.num];
      const b = r[tg.den];
      if (a?.ok !== true || b?.ok !== true) return null;
      if (tg.field === 'latCpuInverse') {
        const ca = a.lat?.filterCpuNsPerPkt;
        const cb = b.lat?.filterCpuNsPerPkt;
        return ca !== null && ca !== undefined && cb !== null && cb !== undefined && ca > 0 ? cb / ca : null;
      }
      const pa = tg.field === 'banDropPps' ? a.ban?.banDropPps : a.sat?.inspectedPps;
      const pb = tg.field === 'banDropPps' ? b.ban?.banDropPps : b.sat?.inspectedPps;
      return pa !== undefined && pb !== undefined && pb > 0 ? pa / pb : null;
    });
    const s = stat(per);
    const denFailed = rounds.every((r) => r[tg.den]?.ok !== true);
    const note =
      tg.field === 'inspectedPps' && limitedBy[tg.num] === 'generator'
        ? `${tg.num} did not saturate (the generator's CPU ran out first): the ratio is a lower bound`
        : undefined;
    ratios.push({
      name: tg.name,
      target: tg.min === null ? 'none' : `>= ${tg.min}`,
      ...(note !== undefined ? { note } : {}),
      ...(s !== null ? { median: s.median, min: s.min, max: s.max, perRound: per } : { status: denFailed ? `${tg.den} not measured` : 'n/a' }),
      met: s !== null && tg.min !== null ? s.median >= tg.min : null,
    });
  }
  for (const id of ['d', 'e', 'f'] as const) {
    if (!p.setups.includes(id) || !p.setups.includes('a')) continue;
    const s = (summary[id] as { addedP99Us?: Stat | null } | undefined)?.addedP99Us ?? null;
    ratios.push({ name: `${id} added p99 at ${p.rate} pps (us)`, target: `< ${P99_TARGET_US}`, ...(s !== null ? { median: s.median, min: s.min, max: s.max } : { status: 'n/a' }), met: s !== null ? s.median < P99_TARGET_US : null });
  }

  // --------------------------------------------------------- print
  const header = ['setup', 'inspected pps', 'gen pps', 'overflow', 'limit', 'p50 us', 'p99 us', '+p50 us', '+p99 us', 'cpu ns/pkt sat', 'cpu ns/pkt paced', 'softirq ns/pkt'];
  const table = [header, ...rows.filter((r) => r.length === header.length)];
  const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  console.log(`\nSaturation (inspected = delivered to the sink and seen by the filter) and latency paced at ${p.rate} pps (the answer setups, d-ans*, at ${p.answersRate}); median [min-max] over ${p.rounds} round(s)`);
  console.log('overflow: share of the offered packets the NFQUEUE overflow let through unseen or dropped; limit: what ran out first; cpu: filter process utime+stime per packet; softirq: machine-wide');
  for (const r of table) console.log(r.map((c, i) => pad(c, widths[i] as number)).join('  '));
  for (const r of rows.filter((r) => r.length !== header.length)) console.log(r.join('  '));
  console.log('\nTargets (ratios of inspected pps within a round; median [min-max]):');
  for (const r of ratios) {
    const v = typeof r.median === 'number' ? `${fmt(r.median as number, 2)} [${fmt(r.min as number, 2)}-${fmt(r.max as number, 2)}]` : String(r.status);
    console.log(`  ${pad(String(r.name), 34)} ${pad(v, 22)} target ${pad(String(r.target), 8)} ${r.met === true ? 'MET' : r.met === false ? 'MISSED' : 'n/a'}${r.note !== undefined ? ` (${String(r.note)})` : ''}`);
  }

  const out = {
    date: new Date().toISOString(),
    node: process.version,
    kernel,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    iptables: run(['iptables', '-V']).trim(),
    durationSeconds: (Date.now() - started) / 1000,
    params: p,
    notes: [
      'inspected pps: packets that reached the sink and were seen by the filter, per second of generator time; NFQUEUE overflow accepted by the kernel unseen (fail-open) is subtracted',
      'filter cpu: utime+stime of the filtering process (/proc/PID/stat) over the phase, per inspected packet; softirq/system: machine-wide /proc/stat per inspected packet (tick-sampled, includes the generator)',
      'added latency: setup minus (a) in the same round',
      '(b) rate limit raised to 6500/s per source (hashlimit) like sipwall in (d); UA strings matched case-sensitively as in the classic recipe',
    ],
    summary,
    ratios,
    rounds,
  };
  mkdirSync(join(p.out, '..'), { recursive: true });
  writeFileSync(`${p.out}.tmp`, `${JSON.stringify(out, null, 2)}\n`);
  renameSync(`${p.out}.tmp`, p.out);
  console.log(`\nwrote ${p.out} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

main().then(
  () => {
    cleanupSync();
    process.exit(0);
  },
  (e: unknown) => {
    console.error('inline-bench:', e instanceof Error ? e.message : e);
    cleanupSync();
    process.exit(1);
  },
);
