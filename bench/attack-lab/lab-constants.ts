// Addresses, accounts and limits of the attack lab, in one place.
//
//   attacker ns  10.66.0.2 (+ spoofed 10.67.0.0/16) ─┐
//                                                    ├─ br0 in the pbx ns, PBX 10.66.0.1:5060
//   phone ns     10.66.0.3 (baresip), 10.66.0.4 (sipp) ─┘
//
// One PBX address for everybody, as on a real PBX: the attacker and the
// phones reach the same Kamailio socket, so a flood competes with the
// phones for it.

import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: this file runs as dist/bench/attack-lab/lab-constants.js. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
export const SIPWALL_BIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const SIP_FLOOD_BIN = join(ROOT, 'build', 'bench', 'sip-flood');

export const PBX = '10.66.0.1';
export const ATTACKER = '10.66.0.2';
export const BARESIP = '10.66.0.3';
export const SIPP = '10.66.0.4';
export const LAN_PREFIX = 24;
/** Spoofed sources of the flood live behind the attacker (route back via ATTACKER). */
export const SPOOF_NET = '10.67.0.0/16';
export const SPOOF_BASE = '10.67.0.1';
export const SPOOF_SOURCES = 65_000;
export const SIP_PORT = 5060;

export const SECRET_HOST = 'secret-7f3a.pbx.example.com';

/** The PBX's extensions: three strong passwords, one weak one (svcrack's numeric range finds it). */
export const EXTENSIONS: Readonly<Record<string, string>> = {
  '100': 'Xk29-strong-pw-100',
  '101': 'Qm81-strong-pw-101',
  '102': 'Tz47-strong-pw-102',
  '103': '1234',
};
export const WEAK_EXTENSION = '103';
export const BARESIP_EXTENSION = '100';
export const SIPP_EXTENSION = '101';

/** A real softphone's User-Agent, used by the patched sipvicious (scenario 4) and the relay probe. */
export const SOFTPHONE_UA = 'Zoiper rv2.10.20.4';

/** Every namespace of the lab is named swa-<pid>-<n>-<role>. */
export const NS_PREFIX = 'swa';

/**
 * Two "hosts" on one machine: with two CPUs or more, the attacker's tools
 * run on CPU 0 and the PBX (Kamailio and the filter under test) on CPU 1,
 * so a flood competes with the PBX for the wire, not for the same core
 * (the kernel's receive path still runs where the packet was sent). The
 * phones are not pinned. One CPU: nothing is pinned.
 */
export function pinned(role: 'attacker' | 'pbx', argv: string[]): string[] {
  if (cpus().length < 2) return argv;
  return ['taskset', '-c', role === 'attacker' ? '0' : '1', ...argv];
}
