// Setup "sipwall": `sipwall start` inline in the pbx namespace with the
// shipped rules plus the secret hostname; its bans file and control socket
// in the run's temp dir, its metrics on the namespace's own loopback.

import { readFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { join } from 'node:path';
import { NO_MEMORY_REDUCER } from '../../src/cli/gc-tuning.js';
import { SECRET_HOST, SIPWALL_BIN, pinned } from './lab-constants.js';
import { metricSum } from '../lib/metric-sum.js';
import { Proc } from '../lib/proc.js';
import type { Filter } from './filter.js';
import type { Topology } from './topology.js';

/** The shipped rules plus the secret hostname; without `signatures`, every User-Agent and fingerprint rule switched off. */
export function sipwallConfig(dir: string, signatures = true): string {
  const off: string[] = [];
  if (!signatures) {
    const shipped = parseYaml(readFileSync(join(process.cwd(), 'rules', 'default.yaml'), 'utf8')) as { userAgents: object; fingerprints: object };
    off.push('userAgents:', ...Object.keys(shipped.userAgents).map((id) => `  ${id}: {enabled: false}`));
    off.push('fingerprints:', ...Object.keys(shipped.fingerprints).map((id) => `  ${id}: {enabled: false}`));
  }
  return [
    `# Written by bench/attack-lab: the shipped rules plus the secret hostname${signatures ? '' : ', signatures off'}.`,
    'secretHosts:',
    `  - ${SECRET_HOST}`,
    ...off,
    `stateFile: ${join(dir, 'bans.json')}`,
    `control: {socket: ${join(dir, 'control.sock')}, group: ""}`,
    'metrics: {listen: "127.0.0.1:9467"}',
    '',
  ].join('\n');
}

/** Packet count of the first iptables-save -c rule of `table` containing every part. */
function ruleCount(save: string, ...parts: string[]): number {
  for (const line of save.split('\n')) {
    const m = /^\[(\d+):\d+\] (.*)$/.exec(line);
    if (m !== null && parts.every((p) => (m[2] as string).includes(p))) return Number(m[1]);
  }
  return 0;
}

export async function startSipwall(topo: Topology, dir: string, logFile: string, signatures: boolean): Promise<Filter> {
  const cfg = join(dir, 'sipwall.yaml');
  writeFileSync(cfg, sipwallConfig(dir, signatures));
  const proc = new Proc(topo.argv('pbx', pinned('pbx', ['node', NO_MEMORY_REDUCER, SIPWALL_BIN, 'start', '--config', cfg])));
  const log: string[] = [];
  proc.onLine((l) => {
    if (log.length < 5000) log.push(l);
  });
  if ((await proc.waitLine((l) => l.includes('"event":"start"'), 30_000)) === null) {
    await proc.stop(2000);
    throw new Error(`sipwall did not start: ${proc.lines.slice(-5).join('\n')} ${proc.stderr.slice(0, 1000)}`);
  }
  let exitCode: number | null | undefined;
  return {
    name: signatures ? 'sipwall' : 'sipwall-behaviour',
    pid: () => proc.pid,
    stop: async () => {
      exitCode = await proc.stop(15_000);
      writeFileSync(logFile, `${proc.lines.join('\n')}\n--- stderr\n${proc.stderr}`);
      if (exitCode !== 0) console.error(`  sipwall exited ${String(exitCode)}: ${proc.stderr.slice(0, 300)}`);
    },
    extra: () => {
      let m = '';
      try {
        m = topo.exec('pbx', ['curl', '-sf', '--max-time', '5', 'http://127.0.0.1:9467/metrics']);
      } catch {
        // metrics unavailable: reported as zeros
      }
      const mangle = topo.exec('pbx', ['iptables-save', '-c', '-t', 'mangle']);
      const raw = topo.exec('pbx', ['iptables-save', '-c', '-t', 'raw']);
      const queuedUdp = ruleCount(mangle, '-A SIPWALL -p udp', 'NFQUEUE');
      // sipwall also queues what the PBX sends from its SIP ports (it
      // watches the answers), when its rules have that chain.
      const queuedOutUdp = ruleCount(mangle, '-A SIPWALL-OUT -p udp', 'NFQUEUE');
      const received = metricSum(m, 'sipwall_queue_packets_total');
      return {
        bans: metricSum(m, 'sipwall_bans_total'),
        bansByReason: Object.fromEntries(
          [...m.matchAll(/^sipwall_bans_total\{[^}]*reason="([^"]+)"[^}]*\} (\S+)$/gm)].filter((x) => Number(x[2]) > 0).map((x) => [x[1] as string, Number(x[2])]),
        ),
        trusts: metricSum(m, 'sipwall_trusts_total'),
        trackedSources: metricSum(m, 'sipwall_tracked_sources'),
        trackedSourceEvictions: metricSum(m, 'sipwall_tracked_source_evictions_total'),
        engineDrops: metricSum(m, 'sipwall_packets_total', 'verdict="drop"'),
        hotTableDrops: metricSum(m, 'sipwall_native_hot_hits_total', 'verdict="drop"'),
        kernelBanDrops: ruleCount(raw, '-A SIPWALL-BAN -p udp'),
        queuedUdp,
        queuedOutUdp,
        receivedFromQueue: received,
        // Queued by the kernel but never read by sipwall: with failOpen (the
        // default) the kernel let them through unfiltered when the queue or
        // sipwall's socket was full.
        notSeenBySipwall: Math.max(0, queuedUdp + queuedOutUdp - received),
        kernelQueueDropped: metricSum(m, 'sipwall_queue_kernel_dropped_total'),
        kernelQueueUserDropped: metricSum(m, 'sipwall_queue_kernel_user_dropped_total'),
        queueEnobufs: metricSum(m, 'sipwall_queue_enobufs_total'),
        banEvents: log.filter((l) => l.includes('"event":"ban"')).length,
      };
    },
  };
}
