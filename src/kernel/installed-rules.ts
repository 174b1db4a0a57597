// What of sipwall is present in the kernel right now: our chains, the jumps
// to them, and the ban sets. Read from iptables-save / ip6tables-save and
// `ipset list -t`, which print the same syntax the restore scripts use, so a
// crashed run's leftovers are recognised by exact text.

import { KernelError } from '../errors.js';
import { CommandRunner, DEFAULT_RUNNER, resolveBinary } from './command-runner.js';
import { BAN_CHAIN, DEFAULT_KERNEL_OPTIONS, MARK_CHAIN, OUT_CHAIN, QUEUE_CHAIN } from './kernel-options.js';
import { ourJump, type Family } from './render-rules.js';

export interface SavedTable {
  /** Chain name -> policy ('-' for user chains). */
  chains: Map<string, string>;
  /** Rule lines as printed ("-A CHAIN ..."), in order, counters stripped. */
  rules: string[];
}

/** Parse iptables-save output into tables. Comments and counters are dropped. */
export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let cur: SavedTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      cur = { chains: new Map(), rules: [] };
      tables.set(line.slice(1), cur);
    } else if (line === 'COMMIT') {
      cur = undefined;
    } else if (cur !== undefined && line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      if (name !== undefined) cur.chains.set(name, policy ?? '-');
    } else if (cur !== undefined) {
      // "[pkts:bytes] -A ..." when saved with -c.
      cur.rules.push(line.replace(/^\[\d+:\d+\]\s+/, ''));
    }
  }
  return tables;
}

export interface FamilyInstall {
  /** Rules of SIPWALL in mangle (without the "-A SIPWALL " head), or null when the chain is absent. */
  queueChain: string[] | null;
  /** Rules of SIPWALL-BAN in raw, or null when absent. */
  banChain: string[] | null;
  // Our jumps, each as printed after "-A HOOK " (render-rules.ts ourJump).
  /** mangle INPUT -> SIPWALL. */
  queueJumps: string[];
  /** raw PREROUTING -> SIPWALL-BAN. */
  banJumps: string[];
  /** Rules of SIPWALL-MARK in security, or null when absent. */
  markChain: string[] | null;
  /** security INPUT -> SIPWALL-MARK. */
  markJumps: string[];
  /** security OUTPUT -> SIPWALL-MARK. */
  markOutJumps: string[];
  /** Rules of SIPWALL-OUT in mangle, or null when absent. */
  outChain: string[] | null;
  /** mangle OUTPUT -> SIPWALL-OUT. */
  outJumps: string[];
  /** Other rules that jump to our chains (not ours: removal refuses to break them). */
  foreignRefs: string[];
  /** Set names our SIPWALL-BAN chain matches. */
  setsReferenced: string[];
}

export interface SetInfo {
  name: string;
  type: string;
  /** 'inet' or 'inet6'. */
  family: string;
  maxElem: number;
  /** The set supports per-entry timeouts. */
  timeout: boolean;
  references: number;
  entries: number;
}

export interface InstalledState {
  v4: FamilyInstall;
  /** null when ip6tables is unavailable (binary missing or IPv6 disabled in the kernel). */
  v6: FamilyInstall | null;
  /** Ban sets that exist: the default names, the names asked for, and any referenced by our chains. */
  sets: SetInfo[];
  /** Anything at all of ours is present. */
  present: boolean;
}

function familyState(tables: Map<string, SavedTable>): FamilyInstall {
  const raw = tables.get('raw');
  const mangle = tables.get('mangle');
  const security = tables.get('security');
  const chainRules = (t: SavedTable | undefined, chain: string): string[] | null => {
    if (t === undefined || !t.chains.has(chain)) return null;
    const head = `-A ${chain} `;
    return t.rules.filter((r) => r.startsWith(head)).map((r) => r.slice(head.length));
  };
  /** Specs of our jumps from `hook` to `chain`. */
  const jumps = (t: SavedTable | undefined, hook: string, chain: string): string[] => {
    const head = `-A ${hook} `;
    return (t?.rules ?? []).filter((r) => r.startsWith(head) && ourJump(chain, r.slice(head.length))).map((r) => r.slice(head.length));
  };
  /** Rules jumping to `chain` that are not our jumps from one of `hooks`. */
  const foreign = (t: SavedTable | undefined, name: string, chain: string, ...hooks: string[]): string[] =>
    t === undefined
      ? []
      : t.rules
          .filter((r) => [` -j ${chain}`, ` -g ${chain}`].some((j) => r.endsWith(j) || r.includes(`${j} `)))
          .filter((r) => !hooks.some((h) => r.startsWith(`-A ${h} `) && ourJump(chain, r.slice(`-A ${h} `.length))))
          .map((r) => `${name}: ${r}`);
  const banChain = chainRules(raw, BAN_CHAIN);
  const sets = new Set<string>();
  for (const r of banChain ?? []) {
    const m = /--match-set (\S+) /.exec(r);
    if (m?.[1] !== undefined) sets.add(m[1]);
  }
  return {
    queueChain: chainRules(mangle, QUEUE_CHAIN),
    banChain,
    queueJumps: jumps(mangle, 'INPUT', QUEUE_CHAIN),
    banJumps: jumps(raw, 'PREROUTING', BAN_CHAIN),
    markChain: chainRules(security, MARK_CHAIN),
    markJumps: jumps(security, 'INPUT', MARK_CHAIN),
    markOutJumps: jumps(security, 'OUTPUT', MARK_CHAIN),
    outChain: chainRules(mangle, OUT_CHAIN),
    outJumps: jumps(mangle, 'OUTPUT', OUT_CHAIN),
    foreignRefs: [
      ...foreign(security, 'security', MARK_CHAIN, 'INPUT', 'OUTPUT'),
      ...foreign(mangle, 'mangle', OUT_CHAIN, 'OUTPUT'),
      ...foreign(raw, 'raw', BAN_CHAIN, 'PREROUTING'),
      ...foreign(mangle, 'mangle', QUEUE_CHAIN, 'INPUT'),
    ],
    setsReferenced: [...sets],
  };
}

export function familyPresent(f: FamilyInstall | null): boolean {
  return (
    f !== null &&
    (f.queueChain !== null || f.banChain !== null || f.markChain !== null || f.outChain !== null ||
      f.queueJumps.length > 0 || f.banJumps.length > 0 || f.markJumps.length > 0 || f.markOutJumps.length > 0 || f.outJumps.length > 0)
  );
}

/** Read one family's rules; null when that family's tools are missing or the kernel refuses (IPv6 disabled). */
export async function readFamily(runner: CommandRunner, family: Family): Promise<FamilyInstall | null> {
  const save = family === 4 ? 'iptables-save' : 'ip6tables-save';
  if (resolveBinary(save) === null) {
    if (family === 4) runner.requireBinaries([save]);
    return null;
  }
  const r = await runner.run([save]);
  if (r.code !== 0) {
    if (family === 6) return null;
    throw new KernelError(`${save} failed: ${r.stderr.trim().replace(/\s+/g, ' ')}`);
  }
  return familyState(parseSave(r.stdout));
}

/** Parse `ipset list -t` (all sets, headers only). */
export function parseSetHeaders(text: string): SetInfo[] {
  const out: SetInfo[] = [];
  for (const block of text.split(/\n(?=Name: )/)) {
    const field = (k: string): string | undefined => new RegExp(`^${k}: (.*)$`, 'm').exec(block)?.[1]?.trim();
    const name = field('Name');
    if (name === undefined) continue;
    const header = field('Header') ?? '';
    const hv = (k: string): string | undefined => new RegExp(`(?:^| )${k} (\\S+)`).exec(header)?.[1];
    out.push({
      name,
      type: field('Type') ?? '',
      family: hv('family') ?? '',
      maxElem: Number(hv('maxelem') ?? 0),
      timeout: hv('timeout') !== undefined,
      references: Number(field('References') ?? 0),
      entries: Number(field('Number of entries') ?? 0),
    });
  }
  return out;
}

/** Headers of the named sets that exist (empty when ipset is not installed). */
export async function readSets(runner: CommandRunner, names: Iterable<string>): Promise<SetInfo[]> {
  const wanted = new Set(names);
  if (wanted.size === 0 || resolveBinary('ipset') === null) return [];
  const text = await runner.check(['ipset', 'list', '-t']);
  return parseSetHeaders(text).filter((s) => wanted.has(s.name));
}

/**
 * Everything of sipwall present in the kernel (of the runner's namespace).
 * `setNames` adds set names to look for besides the defaults and those our
 * chains reference.
 */
export async function findInstalled(runner: CommandRunner = DEFAULT_RUNNER, setNames: readonly string[] = []): Promise<InstalledState> {
  const v4 = await readFamily(runner, 4);
  const v6 = await readFamily(runner, 6);
  const names = new Set<string>([DEFAULT_KERNEL_OPTIONS.set4, DEFAULT_KERNEL_OPTIONS.set6, ...setNames]);
  for (const f of [v4, v6]) for (const s of f?.setsReferenced ?? []) names.add(s);
  const sets = await readSets(runner, names);
  return { v4: v4 as FamilyInstall, v6, sets, present: familyPresent(v4) || familyPresent(v6) || sets.length > 0 };
}
