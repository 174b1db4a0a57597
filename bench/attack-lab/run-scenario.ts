// One scenario under one setup, on a fresh lab: namespaces, Kamailio, the
// filter, the attack, the phones (scenario 5; 4 and 6 with sipwall), the measurements, then
// everything stopped and deleted whatever happened.

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AttackerMeter } from './attacker-meter.js';
import { BaresipPhone, type Registration } from './baresip-phone.js';
import { startClassic } from './classic-filter.js';
import { trackTmpDir } from '../lib/cleanup.js';
import { noFilter, type Filter } from './filter.js';
import { readKamailioLog, Kamailio, type KamailioLog } from './kamailio.js';
import { ATTACKER, BARESIP, EXTENSIONS, PBX, ROOT, SIPP, SOFTPHONE_UA, WEAK_EXTENSION, pinned } from './lab-constants.js';
import { cpuSeconds, memory, udpRcvbufErrors } from './proc-stats.js';
import { Proc, sleep } from '../lib/proc.js';
import { runFlood, type FloodRun } from './register-flood.js';
import type { Scenario, SetupId } from './scenarios.js';
import { runSippPhone, type SippResult } from './sipp-phone.js';
import { startSipwall } from './sipwall-filter.js';
import { patchedSipvicious, runTool, toolArgs, type ToolRun } from './sipvicious.js';
import { Topology } from './topology.js';

export interface Timing {
  /** Longest a sipvicious tool may run (then Ctrl-C, then kill). */
  toolCapSeconds: number;
  floodSeconds: number;
  /** svwar's extension range and svcrack's password range. */
  extensions: string;
  passwords: string;
}

export interface LegitResult {
  baresip: { attempted: number; succeeded: number; pending: number; latencyMs: number[] };
  sipp: SippResult;
}

export interface RunResult {
  scenario: string;
  setup: SetupId;
  ok: boolean;
  error?: string;
  seconds: number;
  /** Requests from the attacker (or its spoofed sources) that reached Kamailio. */
  reached: number;
  /** Of those, requests carrying credentials: passwords the attacker could try. */
  passwordsTried: number;
  reachedByMethod: Record<string, number>;
  attackerSourcesReached: number;
  /** IP packets the attacker namespace sent. */
  attackerPackets: number;
  /** Seconds from the attacker's first packet to its last request that reached Kamailio, if it kept sending after that; null: not cut off. */
  cutOffSeconds: number | null;
  attackSeconds: number;
  learned: {
    devices: number;
    extensions: string[];
    realExtensions: number;
    password: string | null;
    passwordFound: boolean;
    relayAnswered2xx?: number;
  };
  legit?: LegitResult;
  filterCpuSeconds: number | null;
  filterMaxRssBytes: number | null;
  /** Datagrams the PBX namespace dropped because Kamailio's socket buffer was full (attackers' and phones' alike). */
  pbxUdpDrops: number | null;
  perSecond: number[];
  kamailio?: { authFailures: number; unknownUser: number; legitRequests: number; other: number };
  tool?: ToolRun;
  flood?: FloodRun;
  probe?: Record<string, unknown>;
  filterExtra?: Record<string, unknown>;
}

const isAttacker = (ip: string): boolean => ip === ATTACKER || ip.startsWith('10.67.');
const isLegit = (ip: string): boolean => ip === BARESIP || ip === SIPP;

async function startFilter(setup: SetupId, topo: Topology, dir: string, kam: Kamailio): Promise<Filter> {
  switch (setup) {
    case 'none':
      return noFilter();
    case 'classic':
      return startClassic(topo, dir, kam.log);
    case 'sipwall':
      return startSipwall(topo, dir, join(dir, 'sipwall.log'), true);
    case 'sipwall-behaviour':
      return startSipwall(topo, dir, join(dir, 'sipwall.log'), false);
  }
}

function summariseRegistrations(regs: Registration[], from: number, to: number): LegitResult['baresip'] {
  const inWindow = regs.filter((r) => r.start >= from && r.start <= to);
  // Still unanswered at the end but younger than baresip's own give-up time: in progress, not failed.
  const pending = inWindow.filter((r) => r.end === null && to - r.start < 32_000);
  const attempted = inWindow.filter((r) => !pending.includes(r));
  return {
    attempted: attempted.length,
    succeeded: attempted.filter((r) => r.ok).length,
    pending: pending.length,
    latencyMs: attempted.filter((r) => r.ok && r.end !== null).map((r) => (r.end as number) - r.start),
  };
}

export async function runScenario(sc: Scenario, setup: SetupId, labDir: string, timing: Timing, keep: boolean): Promise<RunResult> {
  const started = Date.now();
  const dir = mkdtempSync(join(labDir, `${sc.id}-${setup}-`));
  if (!keep) trackTmpDir(dir);
  const res: RunResult = {
    scenario: sc.id,
    setup,
    ok: false,
    seconds: 0,
    reached: 0,
    passwordsTried: 0,
    reachedByMethod: {},
    attackerSourcesReached: 0,
    attackerPackets: 0,
    cutOffSeconds: null,
    attackSeconds: 0,
    learned: { devices: 0, extensions: [], realExtensions: 0, password: null, passwordFound: false },
    filterCpuSeconds: null,
    filterMaxRssBytes: null,
    pbxUdpDrops: null,
    perSecond: [],
  };
  let topo: Topology | null = null;
  let kam: Kamailio | null = null;
  let filter: Filter | null = null;
  let meter: AttackerMeter | null = null;
  let phone: BaresipPhone | null = null;
  let t0 = Date.now();
  try {
    topo = Topology.create();
    kam = await Kamailio.start(topo, dir);
    const udpDrops0 = udpRcvbufErrors(kam.pid);
    filter = await startFilter(setup, topo, dir, kam);
    const fpid = filter.pid();
    const cpu0 = fpid !== null ? cpuSeconds(fpid) : null;
    meter = await AttackerMeter.start(topo);

    let phonesFrom = 0;
    let sippRun: Promise<SippResult> | null = null;
    // Phones are live during the floods, and with sipwall also during the
    // signature-blind attacks (4) and the relay probe (6): behaviour rules
    // must not catch them. (Not with the other setups of 4 and 6: it would
    // add a minute to a run that must stay under ten.)
    if (sc.kind === 'flood' || (setup.startsWith('sipwall') && (sc.number === 4 || sc.number === 6))) {
      phone = await BaresipPhone.start(topo, dir);
      phonesFrom = Date.now();
      // Two register+call cycles a second, from 1 s before the flood to 3 s after it.
      const sippSeconds = timing.floodSeconds + 4;
      sippRun = runSippPhone(topo, dir, sippSeconds * 2, 2);
      await sleep(1000);
    }

    t0 = Date.now();
    meter.reset();
    switch (sc.kind) {
      case 'tool': {
        const tool = sc.tool as Exclude<Scenario['tool'], undefined>;
        const patched = sc.patched === true ? patchedSipvicious(dir) : null;
        const args = toolArgs(tool, { method: sc.method, extension: WEAK_EXTENSION, passwords: timing.passwords, extensions: timing.extensions });
        const run = await runTool(topo, dir, tool, args, patched, timing.toolCapSeconds);
        res.tool = run;
        if (tool === 'svmap') res.learned.devices = run.rows.length;
        if (tool === 'svwar') {
          res.learned.extensions = run.rows.map((r) => r[0]);
          res.learned.realExtensions = res.learned.extensions.filter((e) => e in EXTENSIONS).length;
        }
        if (tool === 'svcrack') {
          const row = run.rows.find((r) => r[0] === WEAK_EXTENSION);
          res.learned.password = row?.[1] ?? null;
          res.learned.passwordFound = row !== undefined && row[1] === EXTENSIONS[WEAK_EXTENSION];
        }
        break;
      }
      case 'flood':
        res.flood = await runFlood(topo, dir, sc.spoofed === true, timing.floodSeconds);
        break;
      case 'relay': {
        const p = new Proc(topo.argv('attacker', pinned('attacker', ['node', join(ROOT, 'dist', 'bench', 'attack-lab', 'relay-probe.js'), '--dst', PBX, '--src', ATTACKER, '--rate', '10', '--ua', SOFTPHONE_UA])));
        const code = await p.waitExit(30_000);
        const last = p.lines.filter((l) => l.startsWith('{')).pop();
        if (code !== 0 || last === undefined) throw new Error(`relay probe failed (${String(code)}): ${p.stderr.slice(0, 500)}`);
        res.probe = JSON.parse(last) as Record<string, unknown>;
        res.learned.relayAnswered2xx = Number(res.probe['answered2xx'] ?? 0);
        break;
      }
    }
    res.attackSeconds = (Date.now() - t0) / 1000;

    if (sippRun !== null && phone !== null) {
      const sipp = await sippRun;
      const phonesTo = Date.now();
      res.legit = { baresip: summariseRegistrations(phone.tracker.registrations, phonesFrom, phonesTo), sipp };
    }
    await sleep(1000); // the last answers and log lines
    await meter.stop();

    if (fpid !== null) {
      const cpu1 = cpuSeconds(fpid);
      res.filterCpuSeconds = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
      res.filterMaxRssBytes = memory(fpid)?.hwm ?? null;
    }
    res.filterExtra = await filter.extra();
    const udpDrops1 = udpRcvbufErrors(kam.pid);
    res.pbxUdpDrops = udpDrops0 !== null && udpDrops1 !== null ? udpDrops1 - udpDrops0 : null;

    await phone?.stop();
    phone = null;
    await filter.stop();
    filter = null;
    await kam.stop();
    const log: KamailioLog = await readKamailioLog(kam.log, t0, isAttacker, isLegit);
    kam = null;
    res.kamailio = { authFailures: log.authFailures, unknownUser: log.unknownUser, legitRequests: log.legit.requests, other: log.other };
    res.reached = log.attacker.requests;
    res.passwordsTried = log.attacker.withCredentials;
    res.reachedByMethod = log.attacker.byMethod;
    res.attackerSourcesReached = log.attacker.sources;
    res.perSecond = log.attacker.perSecond;
    res.attackerPackets = meter.packets;
    const firstSend = meter.firstSend ?? t0;
    if (meter.packets > 0) {
      if (log.attacker.last === null) res.cutOffSeconds = 0;
      else if (meter.lastSend !== null && meter.lastSend - log.attacker.last * 1000 > 1000) res.cutOffSeconds = Math.max(0, log.attacker.last - firstSend / 1000);
    }
    res.ok = true;
  } catch (e) {
    res.error = (e as Error).message;
  } finally {
    const quiet = async (fn: (() => Promise<void>) | undefined): Promise<void> => {
      try {
        await fn?.();
      } catch {
        // best effort on the way out
      }
    };
    await quiet(meter !== null ? () => (meter as AttackerMeter).stop() : undefined);
    await quiet(phone !== null ? () => (phone as BaresipPhone).stop() : undefined);
    await quiet(filter !== null ? () => (filter as Filter).stop() : undefined);
    await quiet(kam !== null ? () => (kam as Kamailio).stop() : undefined);
    topo?.destroy();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  res.seconds = (Date.now() - started) / 1000;
  return res;
}
