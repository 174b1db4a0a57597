// Engine micro-benchmark (a benchmark, not a test: it prints figures and
// ratios, it asserts nothing).
//
// 1. The full per-packet decision: decodeIp + Engine.decide on real corpus
//    messages wrapped in IPv4/UDP, from rotating sources, as the inline path
//    runs it. Reported as the median over rounds of the mean per packet, and
//    the median of single-packet timings; and against the npm `sip` parser
//    parsing the same message in the same run (the calibration).
// 2. Memory per tracked source at 1M distinct sources: the engine's RateTable
//    against a plain Map<number, number> of the same size, both measured in
//    this run (heap + array buffers after a forced GC).
//
// Run: npm run bench:engine   (node --expose-gc dist/bench/engine-bench.js)

import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Decision } from '../src/engine/decision.js';
import { Engine } from '../src/engine/engine.js';
import { RateTable } from '../src/engine/rate-table.js';
import { buildUdpPacket } from '../src/packet/build-packet.js';
import { decodeIp } from '../src/packet/decode-ip.js';
import { PacketView } from '../src/packet/packet-view.js';
import { compileRules } from '../src/rules/compile-rules.js';
import { loadConfig } from '../src/rules/load-config.js';
import { readFileSync } from 'node:fs';

interface NpmSip {
  parse(s: string | Buffer): { headers?: Record<string, unknown> } | undefined;
}
const npmSip = createRequire(import.meta.url)('sip') as NpmSip;
let npmSink = 0;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc (npm run bench:engine does)');
  process.exit(2);
}

const ROOT = process.cwd();
const sample = (p: string): Buffer => readFileSync(join(ROOT, 'rules', 'samples', p));
const MESSAGES: Array<[string, Buffer]> = [
  ['REGISTER (phone, no secret host)', sample('rate-register/register.sip')],
  ['REGISTER to secret host', sample('_legit/zoiper-register-secret.sip')],
  ['INVITE with SDP', sample('rate-invite/invite.sip')],
  ['OPTIONS from svmap (scanner)', sample('friendly-scanner/svmap-options.sip')],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function benchDecision(): Array<{ message: string; meanNsMedian: number; singleNsMedian: number; p99Ns: number; npmSipParseNsMedian: number; ratioVsNpmSipParse: number }> {
  const cfg = loadConfig({ configFile: null }).config;
  cfg.secretHosts = ['secret-7f3a.pbx.example.com'];
  // Limits high enough that the steady state measured is the full path, not "banned".
  cfg.rateLimits.register.limit = 65000;
  cfg.rateLimits.invite.limit = 65000;
  cfg.rateLimits.all.limit = 65000;
  const out = [];
  for (const [name, payload] of MESSAGES) {
    const engine = new Engine(compileRules(cfg));
    const view = new PacketView();
    const d = new Decision();
    // A scanner is banned on its first packet, so its case is a flood of new
    // sources (2^20 of them, one template packet with the source rewritten):
    // every packet takes the full path to a ban. The others rotate over 4096 sources.
    const scanner = name.includes('scanner');
    const SOURCES = scanner ? 1 << 20 : 4096;
    const ROUNDS = 40;
    const PER = 20_000;
    const NPM_PER = 2_000;
    const pkt = buildUdpPacket('10.0.0.1', '10.99.0.2', 5060, 5060, payload);
    // The packets lie end to end in one buffer, at offsets, as the queue
    // hands a batch over (native/, src/queue/): the parser keeps what it
    // derives from the buffer it is given (src/sip/line-scan.ts).
    const pkts = scanner ? [] : Array.from({ length: SOURCES }, (_, i) => buildUdpPacket(`10.${(i >> 8) & 255}.${i & 255}.1`, '10.99.0.2', 5060, 5060, payload));
    const batch = scanner ? pkt : Buffer.concat(pkts);
    const offsets = new Uint32Array(pkts.length);
    for (let i = 1; i < pkts.length; i++) offsets[i] = offsets[i - 1]! + pkts[i - 1]!.length;
    let now = 1_000_000;
    let fresh = 0; // scanner sources never repeat across rounds: each packet is a new source
    const one = (i: number): void => {
      if (scanner) {
        pkt.writeUInt32BE((0x0b000000 + (fresh++ % SOURCES)) >>> 0, 12);
        decodeIp(pkt, 0, pkt.length, view);
      } else {
        decodeIp(batch, offsets[i % SOURCES]!, pkt.length, view);
      }
      engine.decide(view, now, d);
    };
    // The baseline first, right before the engine's rounds on the same
    // message: npm sip's garbage, collected before them, must not be
    // collected during them (the scanner case holds a million bans for
    // every collection to walk).
    for (let i = 0; i < NPM_PER; i++) npmSink += npmSip.parse(payload)?.headers === undefined ? 0 : 1;
    const npmMeans: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < NPM_PER; i++) npmSink += npmSip.parse(payload)?.headers === undefined ? 0 : 1;
      npmMeans.push(Number(process.hrtime.bigint() - t0) / NPM_PER);
    }
    if (npmSink === 0) throw new Error('npm sip parsed nothing');
    gc!();
    for (let i = 0; i < 200_000; i++) one(i); // warm-up: let the JIT settle
    const means: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      now += 100;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < PER; i++) one(i);
      means.push(Number(process.hrtime.bigint() - t0) / PER);
    }
    const singles: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const t0 = process.hrtime.bigint();
      one(i);
      singles.push(Number(process.hrtime.bigint() - t0));
    }
    singles.sort((a, b) => a - b);
    const npmNsMedian = median(npmMeans);
    out.push({ message: name, meanNsMedian: median(means), singleNsMedian: median(singles), p99Ns: singles[Math.floor(singles.length * 0.99)]!, npmSipParseNsMedian: npmNsMedian, ratioVsNpmSipParse: median(means) / npmNsMedian });
  }
  return out;
}

function heapNow(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function benchMemory(n: number): { sources: number; mapBytesPerSource: number; engineBytesPerSource: number; ratio: number } {
  const base0 = heapNow();
  let map: Map<number, number> | null = new Map<number, number>();
  for (let i = 0; i < n; i++) map.set((0x0a000000 + i) | 0, i);
  const mapBytes = heapNow() - base0;
  if (map.size !== n) throw new Error('map size');
  map = null;
  const base1 = heapNow();
  let table: RateTable | null = new RateTable(n, [
    { limit: 20, windowMs: 10_000 },
    { limit: 20, windowMs: 5_000 },
    { limit: 60, windowMs: 10_000 },
  ]);
  for (let i = 0; i < n; i++) table.hit(table.slot((0x0a000000 + i) | 0), 2, 1_000_000);
  const tableBytes = heapNow() - base1;
  if (table.size !== n) throw new Error('table size');
  table = null;
  return { sources: n, mapBytesPerSource: mapBytes / n, engineBytesPerSource: tableBytes / n, ratio: tableBytes / mapBytes };
}

const decision = benchDecision();
const memory = benchMemory(1_000_000);

console.log(`sipwall engine bench — node ${process.version}, ${new Date().toISOString()}`);
console.log('\nFull per-packet decision (decodeIp + Engine.decide); scanner: 2^20 new sources, each banned; others: 4096 rotating sources');
console.log('message                              mean/pkt (median of 40 rounds)   single-pkt median   single p99');
for (const r of decision) {
  console.log(`${r.message.padEnd(36)} ${(r.meanNsMedian / 1000).toFixed(3).padStart(8)} µs ${''.padEnd(22)} ${(r.singleNsMedian / 1000).toFixed(3).padStart(6)} µs ${(r.p99Ns / 1000).toFixed(3).padStart(9)} µs`);
}
const worst = Math.max(...decision.map((r) => r.meanNsMedian));
console.log(`target: under 2 µs median per decision — worst message ${(worst / 1000).toFixed(3)} µs: ${worst < 2000 ? 'met' : 'NOT met'}`);
// The issue sets that target beside its measure of the npm sip parser, "about
// 5 µs per REGISTER here": 2 µs is 0.4 of one npm sip parse. This machine's
// speed drifts (npm sip has taken 11-12 µs a REGISTER on it), so the same
// target is also checked as a ratio against npm sip parsing the same message
// in the same run, which does not depend on the machine.
console.log('\nThe same decision against one npm sip parse of the same message, same run');
for (const r of decision) {
  console.log(`${r.message.padEnd(36)} ${(r.meanNsMedian / 1000).toFixed(3).padStart(8)} µs vs ${(r.npmSipParseNsMedian / 1000).toFixed(3).padStart(7)} µs   ratio ${r.ratioVsNpmSipParse.toFixed(3)}`);
}
const worstRatio = Math.max(...decision.map((r) => r.ratioVsNpmSipParse));
console.log(`target: at most 0.4 (2 µs against the issue's 5 µs) — worst message ${worstRatio.toFixed(3)}: ${worstRatio <= 0.4 ? 'met' : 'NOT met'}`);
console.log(`\nMemory per tracked source at ${memory.sources.toLocaleString('en')} distinct sources`);
console.log(`Map<number, number> baseline   ${memory.mapBytesPerSource.toFixed(1)} bytes/source`);
console.log(`engine RateTable (lru-cache)   ${memory.engineBytesPerSource.toFixed(1)} bytes/source`);
console.log(`ratio ${memory.ratio.toFixed(2)}x (target at most 3x): ${memory.ratio <= 3 ? 'met' : 'NOT met'}`);

mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(ROOT, 'bench', 'results', 'engine.json'),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, decision, memory }, null, 2)}\n`,
);
