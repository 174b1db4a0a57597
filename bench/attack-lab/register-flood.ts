// Scenario 5's attacker: bench/sip-flood (raw socket, sendmmsg, spoofed
// IPv4 sources) sending one REGISTER as fast as the attacker namespace can,
// from its own address or from 65,000 spoofed ones. Bounded by --count and
// --duration, and killed by group if it overstays.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ATTACKER, PBX, SIP_FLOOD_BIN, SOFTPHONE_UA, SPOOF_BASE, SPOOF_SOURCES, pinned } from './lab-constants.js';
import { Proc } from '../lib/proc.js';
import type { Topology } from './topology.js';

/** A softphone-looking REGISTER for an extension the PBX does not have (so Kamailio logs it for fail2ban). */
export function floodTemplate(): string {
  return [
    `REGISTER sip:${PBX} SIP/2.0`,
    `Via: SIP/2.0/UDP ${ATTACKER}:5060;branch=z9hG4bK-1633953854;rport`,
    'Max-Forwards: 70',
    `To: "1001"<sip:1001@${PBX}>`,
    `From: "1001"<sip:1001@${PBX}>;tag=31303030`,
    `User-Agent: ${SOFTPHONE_UA}`,
    'Call-ID: 918385987@flood',
    `Contact: <sip:1001@${ATTACKER}:5060>`,
    'CSeq: 1 REGISTER',
    'Expires: 3600',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export interface FloodRun {
  sources: number;
  sent: number;
  errors: number;
  seconds: number;
  pps: number;
}

export async function runFlood(topo: Topology, dir: string, spoofed: boolean, seconds: number): Promise<FloodRun> {
  const tmpl = join(dir, 'flood-register.sip');
  writeFileSync(tmpl, floodTemplate(), 'latin1');
  const sources = spoofed ? SPOOF_SOURCES : 1;
  const argv = [
    SIP_FLOOD_BIN,
    '--dst', PBX,
    '--src-base', spoofed ? SPOOF_BASE : ATTACKER,
    '--sources', String(sources),
    '--template', tmpl,
    '--rate', '0',
    // Far above what one core reaches in `seconds`: the duration ends it.
    '--count', String(Math.round(seconds * 3_000_000)),
    '--duration', String(seconds),
    '--batch', '64',
  ];
  const p = new Proc(topo.argv('attacker', pinned('attacker', argv)));
  const code = await p.waitExit((seconds + 15) * 1000);
  const last = p.lines.filter((l) => l.startsWith('{')).pop();
  if (code !== 0 || last === undefined) throw new Error(`sip-flood failed (${String(code)}): ${p.stderr}`);
  const r = JSON.parse(last) as { sent: number; errors: number; elapsed_ns: number };
  const s = r.elapsed_ns / 1e9;
  return { sources, sent: r.sent, errors: r.errors, seconds: s, pps: r.sent / s };
}
