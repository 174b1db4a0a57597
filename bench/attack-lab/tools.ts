// The programs the lab runs, and which Debian package brings each
// (bench/attack-lab/setup.sh installs them; the lab itself installs nothing).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, SIP_FLOOD_BIN, SIPWALL_BIN } from './lab-constants.js';

export const TOOLS: ReadonlyArray<{ bin: string; pkg: string }> = [
  { bin: 'kamailio', pkg: 'kamailio' },
  { bin: 'svmap', pkg: 'sipvicious' },
  { bin: 'svwar', pkg: 'sipvicious' },
  { bin: 'svcrack', pkg: 'sipvicious' },
  { bin: 'baresip', pkg: 'baresip' },
  { bin: 'sipp', pkg: 'sip-tester' },
  { bin: 'fail2ban-server', pkg: 'fail2ban' },
  { bin: 'gnuplot', pkg: 'gnuplot-nox' },
  { bin: 'python3', pkg: 'python3' },
  { bin: 'iptables', pkg: 'iptables' },
  { bin: 'ipset', pkg: 'ipset' },
  { bin: 'curl', pkg: 'curl' },
  { bin: 'ss', pkg: 'iproute2' },
  { bin: 'stdbuf', pkg: 'coreutils' },
  { bin: 'taskset', pkg: 'util-linux' },
];

function onPath(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

/** Missing programs, as "bin (package)". */
export function missingTools(): string[] {
  return TOOLS.filter((t) => !onPath(t.bin)).map((t) => `${t.bin} (${t.pkg})`);
}

/** Missing build outputs of this repository (sip-flood only matters to the flood scenarios). */
export function missingBuilds(needFlood: boolean): string[] {
  const out: string[] = [];
  if (!existsSync(SIPWALL_BIN)) out.push(`${SIPWALL_BIN} (npm run build)`);
  if (!existsSync(join(ROOT, 'build', 'Release', 'sipwall_nfq.node'))) out.push('build/Release/sipwall_nfq.node (npm run build:native)');
  if (needFlood && !existsSync(SIP_FLOOD_BIN)) out.push(`${SIP_FLOOD_BIN} (sh bench/build-inline-helpers.sh)`);
  return out;
}
