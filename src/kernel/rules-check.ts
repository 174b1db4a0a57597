// Whether sipwall's rules and ban sets are still what it installed.
//
// Other tools rewrite the firewall under a running sipwall: a hardening
// script's "iptables -t mangle -F", firewalld's iptables backend flushing
// every table on reload, FreePBX's firewall restarting, an admin's
// iptables-restore of a saved file. The jump to SIPWALL goes, and every SIP
// packet then reaches the PBX unjudged while sipwall looks healthy: its queue
// is bound, it just gets nothing. fail2ban re-creates its chains when they are
// missing (its actioncheck); sipwall reads its rules back periodically
// (inline.ruleCheckSeconds) and puts them back (start-command.ts).
//
// Compared by exact text, as iptables-save prints it: render-rules.ts writes
// every rule that way. Only our chains' contents and the presence of our
// jumps are checked, not a jump's position in its hook: moving it back to the
// top would fight whichever tool put its own rule there, forever.

import { CommandRunner, DEFAULT_RUNNER } from './command-runner.js';
import { readFamily, readSets, type FamilyInstall, type SetInfo } from './installed-rules.js';
import { BAN_CHAIN, MARK_CHAIN, OUT_CHAIN, QUEUE_CHAIN, type KernelOptions } from './kernel-options.js';
import { renderFamily, type Family } from './render-rules.js';

/** Where each of our chains lives, and the FamilyInstall fields holding its rules. */
const CHAINS: ReadonlyArray<readonly [string, string, keyof FamilyInstall]> = [
  [BAN_CHAIN, 'raw', 'banChain'],
  [QUEUE_CHAIN, 'mangle', 'queueChain'],
  [OUT_CHAIN, 'mangle', 'outChain'],
  [MARK_CHAIN, 'security', 'markChain'],
];

/** Our jumps: hook, table, the chain it jumps to, and the FamilyInstall field holding the installed ones. */
const JUMPS: ReadonlyArray<readonly [string, string, string, keyof FamilyInstall]> = [
  ['PREROUTING', 'raw', BAN_CHAIN, 'banJumps'],
  ['INPUT', 'mangle', QUEUE_CHAIN, 'queueJumps'],
  ['OUTPUT', 'mangle', OUT_CHAIN, 'outJumps'],
  ['INPUT', 'security', MARK_CHAIN, 'markJumps'],
  ['OUTPUT', 'security', MARK_CHAIN, 'markOutJumps'],
];

/**
 * What of one family's rules is missing or changed, one line each, naming the
 * table and chain ([] when intact). `opts` must be what was installed for
 * this family (answerPrefilter off where install fell back without it).
 * `f` null: the family's tools stopped answering, which is itself reported.
 */
export function familyDrift(opts: KernelOptions, family: Family, f: FamilyInstall | null): string[] {
  const ip = `IPv${family}`;
  if (f === null) return [`${ip}: the rules could not be read`];
  const script = renderFamily(opts, family).split('\n');
  const out: string[] = [];
  for (const [chain, table, field] of CHAINS) {
    const head = `-A ${chain} `;
    const want = script.filter((l) => l.startsWith(head)).map((l) => l.slice(head.length));
    const have = f[field] as string[] | null;
    if (have === null) out.push(`${ip} ${table} ${chain}: chain missing`);
    else if (have.length !== want.length || have.some((r, i) => r !== want[i])) {
      out.push(`${ip} ${table} ${chain}: ${have.length} rule(s) where ${want.length} were installed, or changed`);
    }
  }
  for (const [hook, table, chain, field] of JUMPS) {
    const spec = script.find((l) => l.startsWith(`-I ${hook} 1 `) && l.endsWith(` ${chain}`));
    const have = f[field] as string[];
    if (spec !== undefined && !have.includes(spec.slice(`-I ${hook} 1 `.length))) out.push(`${ip} ${table} ${hook}: the jump to ${chain} is missing`);
  }
  return out;
}

/** The ban sets that should exist and do not. */
export function setDrift(opts: KernelOptions, sets: readonly SetInfo[]): string[] {
  const names = [opts.set4, ...(opts.ipv6 ? [opts.set6] : [])];
  return names.filter((n) => !sets.some((s) => s.name === n)).map((n) => `ipset ${n}: missing`);
}

/**
 * Reads the rules and sets back and says what drifted ([] when intact).
 * `noPrefilter`: families installed without the answer prefilter
 * (InstallReport.prefilterFallback). Throws KernelError when iptables-save
 * itself fails.
 */
export async function checkRules(opts: KernelOptions, noPrefilter: ReadonlySet<Family>, runner: CommandRunner = DEFAULT_RUNNER): Promise<string[]> {
  const out: string[] = [];
  for (const family of opts.ipv6 ? ([4, 6] as const) : ([4] as const)) {
    const o = noPrefilter.has(family) ? { ...opts, answerPrefilter: false } : opts;
    out.push(...familyDrift(o, family, await readFamily(runner, family)));
  }
  out.push(...setDrift(opts, await readSets(runner, [opts.set4, opts.set6])));
  return out;
}
