// Install and remove sipwall's rules and ban sets, atomically per family.
//
// iptables-restore --noflush applies a whole table section in one
// transaction and leaves every chain it is not told about alone, so the
// admin's rules in raw/mangle are never touched. Declaring ":SIPWALL - [0:0]"
// creates the chain, or flushes it when it exists (iptables-restore's
// documented --noflush behaviour for user chains), which is how rules left by
// a crashed run are replaced rather than duplicated. Restore has no "-C", so
// our jumps are read from iptables-save output first, and the script deletes
// them by their spec and inserts the one wanted, in the same transaction.

import { KernelError } from '../errors.js';
import { CommandRunner, DEFAULT_RUNNER } from './command-runner.js';
import { familyPresent, findInstalled, readSets, type FamilyInstall, type InstalledState, type SetInfo } from './installed-rules.js';
import {
  BAN_CHAIN,
  MARK_CHAIN,
  OUT_CHAIN,
  QUEUE_CHAIN,
  SWAP_SUFFIX,
  validateKernelOptions,
  type KernelOptions,
  type KernelOptionsInput,
} from './kernel-options.js';
import { renderFamily, renderSetCreate, type Family, type PresentJumps } from './render-rules.js';

export interface InstallReport {
  /** Our chains or jumps were already present (a crashed or still-running earlier start) and were replaced. */
  replacedLeftovers: boolean;
  setsCreated: string[];
  /** Existing sets kept as they were, with their bans. */
  setsKept: string[];
  /** Existing sets rebuilt with new parameters (maxelem changed); bans copied over. */
  setsRebuilt: string[];
  /**
   * Families whose answers could not be prefiltered in the kernel (xt_u32
   * refused: see render-rules.ts, "Which answers are queued"): every UDP
   * packet the PBX sends is queued there instead. Empty when all is well.
   */
  prefilterFallback: Array<{ family: Family; error: string }>;
}

export interface RemoveReport {
  /** Anything was removed. */
  changed: boolean;
  removedChains: string[];
  removedJumps: number;
  destroyedSets: string[];
  /** Sets left in place because something else still references them. */
  keptSets: string[];
}

const RESTORE: Record<Family, string> = { 4: 'iptables-restore', 6: 'ip6tables-restore' };
// --wait: with the legacy backend, fail2ban or docker holding the xtables
// lock would otherwise make restore fail at once ("Another app is currently
// holding the xtables lock"); iptables-nft accepts and ignores it.
const RESTORE_ARGS = ['--noflush', '--wait', '10'];

/** Removal script for one family's leftovers; '' when nothing is there. */
export function renderRemoval(f: FamilyInstall | null): string {
  if (f === null) return '';
  const lines: string[] = [];
  // Per table: every jump to a chain goes before the chain itself (-X refuses a referenced chain).
  const section = (table: string, chains: Array<{ chain: string; present: boolean; jumps: Array<[hook: string, specs: string[]]> }>): void => {
    const body: string[] = [];
    for (const c of chains) for (const [hook, specs] of c.jumps) for (const spec of specs) body.push(`-D ${hook} ${spec}`);
    for (const c of chains) if (c.present) body.push(`-F ${c.chain}`, `-X ${c.chain}`);
    if (body.length > 0) lines.push(`*${table}`, ...body, 'COMMIT');
  };
  section('raw', [{ chain: BAN_CHAIN, present: f.banChain !== null, jumps: [['PREROUTING', f.banJumps]] }]);
  section('mangle', [
    { chain: QUEUE_CHAIN, present: f.queueChain !== null, jumps: [['INPUT', f.queueJumps]] },
    { chain: OUT_CHAIN, present: f.outChain !== null, jumps: [['OUTPUT', f.outJumps]] },
  ]);
  section('security', [
    { chain: MARK_CHAIN, present: f.markChain !== null, jumps: [['INPUT', f.markJumps], ['OUTPUT', f.markOutJumps]] },
  ]);
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

function presentJumps(f: FamilyInstall): PresentJumps {
  return { ban: f.banJumps, queue: f.queueJumps, mark: f.markJumps, out: f.outJumps, markOut: f.markOutJumps };
}

function familyName(family: Family): string {
  return family === 4 ? 'inet' : 'inet6';
}

/** Bring one ban set to the wanted parameters; returns what was done. */
async function ensureSet(
  runner: CommandRunner,
  name: string,
  family: Family,
  maxElem: number,
  existing: SetInfo | undefined,
): Promise<'created' | 'kept' | 'rebuilt'> {
  if (existing === undefined) {
    await runner.check(['ipset', 'restore'], { input: renderSetCreate(name, family, maxElem) + '\n' });
    return 'created';
  }
  if (existing.timeout && existing.maxElem === maxElem) return 'kept';
  // Different maxelem (or no timeout support): `create -exist` would fail
  // since the kernel only ignores a re-create of an identical set
  // (ip_set_create -> same_set()), and destroy is refused while our raw rules
  // reference it. ipset swap exchanges the contents under the name while the
  // rules keep pointing at it, so bans stay in force throughout.
  const tmp = name + SWAP_SUFFIX;
  const stale = await readSets(runner, [tmp]);
  if (stale.length > 0) await runner.check(['ipset', 'destroy', tmp]);
  const saved = await runner.check(['ipset', 'save', name]);
  const adds = saved
    .split('\n')
    .filter((l) => l.startsWith(`add ${name} `))
    .slice(0, maxElem)
    .map((l) => `add ${tmp} ${l.slice(`add ${name} `.length)}`);
  const script = [renderSetCreate(tmp, family, maxElem), ...adds, `swap ${tmp} ${name}`, `destroy ${tmp}`].join('\n') + '\n';
  await runner.check(['ipset', 'restore'], { input: script });
  return 'rebuilt';
}

/** Destroy the named sets that exist and nothing references; returns [destroyed, kept]. */
async function destroyUnreferenced(runner: CommandRunner, names: Iterable<string>): Promise<[string[], string[]]> {
  const destroyed: string[] = [];
  let pending = await readSets(runner, names);
  // Rule removal drops the set reference when the nf_tables transaction's
  // expressions are destroyed, which newer kernels may do from a work queue
  // just after iptables-restore returns: retry briefly (bounded) before
  // concluding that something else holds the set.
  for (let attempt = 0; attempt < 20 && pending.length > 0; attempt++) {
    const still: SetInfo[] = [];
    for (const s of pending) {
      if (s.references === 0) {
        const r = await runner.run(['ipset', 'destroy', s.name]);
        if (r.code === 0) {
          destroyed.push(s.name);
          continue;
        }
      }
      still.push(s);
    }
    pending = still;
    if (still.length === 0) break;
    await new Promise((res) => setTimeout(res, 25));
    pending = await readSets(runner, still.map((s) => s.name));
  }
  return [destroyed, pending.map((s) => s.name)];
}

/**
 * One family's restore. The answer prefilter needs xt_u32, which a kernel may
 * lack ("Extension u32 revision 0 not supported, missing kernel module?").
 * A failed restore changed nothing (one transaction per table section, and
 * iptables-restore aborts at the first failure before committing), so the
 * same script without the prefilter is tried once: the answers are then all
 * queued, which costs CPU but misses nothing. If that fails too, its error
 * is the real one.
 */
async function restoreFamily(runner: CommandRunner, opts: KernelOptions, family: Family, f: FamilyInstall, report: InstallReport): Promise<void> {
  const argv = [RESTORE[family], ...RESTORE_ARGS];
  const first = await runner.run(argv, { input: renderFamily(opts, family, presentJumps(f)) });
  if (first.code === 0) return;
  const error = (first.stderr.trim() || first.stdout.trim() || `exit status ${first.code}`).replace(/\s+/g, ' ');
  if (!(opts.watchAnswers && opts.answerPrefilter)) throw new KernelError(`${argv.join(' ')} failed: ${error}`);
  await runner.check(argv, { input: renderFamily({ ...opts, answerPrefilter: false }, family, presentJumps(f)) });
  report.prefilterFallback.push({ family, error });
}

function refuseForeign(state: InstalledState): void {
  const refs = [...state.v4.foreignRefs, ...(state.v6?.foreignRefs ?? []).map((r) => `ip6 ${r}`)];
  if (refs.length > 0) {
    throw new KernelError(
      `other rules jump to sipwall's chains; remove them first (nothing was changed): ${refs.join('; ')}`,
    );
  }
}

/**
 * Install (or replace) sipwall's rules and ban sets in the runner's network
 * namespace. Safe to run twice and after a crash: exactly one copy results.
 * On a failure part-way on a host that had none of our rules, whatever was
 * installed is removed again and the KernelError is rethrown. On a host that
 * had rules left by an earlier run, nothing is removed: those rules are the
 * documented fail mode of a dead sipwall (fail-closed drops SIP until it
 * returns; fail-open still drops banned sources in the raw table), and
 * taking them away would let everything through unfiltered.
 */
export async function installRules(input: KernelOptionsInput | KernelOptions, runner: CommandRunner = DEFAULT_RUNNER): Promise<InstallReport> {
  const opts = validateKernelOptions(input);
  runner.requireBinaries([
    'iptables-save',
    'iptables-restore',
    'ipset',
    ...(opts.ipv6 ? ['ip6tables-save', 'ip6tables-restore'] : []),
  ]);
  const state = await findInstalled(runner, [opts.set4, opts.set6]);
  if (opts.ipv6 && state.v6 === null) {
    throw new KernelError('ip6tables-save does not work here (IPv6 disabled in the kernel?): set the ipv6 option to false');
  }
  const report: InstallReport = {
    replacedLeftovers: familyPresent(state.v4) || familyPresent(state.v6),
    setsCreated: [],
    setsKept: [],
    setsRebuilt: [],
    prefilterFallback: [],
  };
  const wanted: Array<[string, Family]> = [[opts.set4, 4]];
  if (opts.ipv6) wanted.push([opts.set6, 6]);
  // A set of another kind under our name is somebody else's: refuse before
  // changing anything (the rollback below would otherwise destroy it).
  for (const [name, family] of wanted) {
    const s = state.sets.find((x) => x.name === name);
    if (s !== undefined && (s.type !== 'hash:net' || s.family !== familyName(family))) {
      throw new KernelError(
        `ipset ${name} exists as ${s.type} family ${s.family}, not a sipwall ban set ` +
          `(hash:net family ${familyName(family)}): destroy it or choose another name with the set${family} option`,
      );
    }
  }
  try {
    // Sets first: the raw rules reference them by name and iptables refuses a
    // --match-set of a set that does not exist.
    for (const [name, family] of wanted) {
      const done = await ensureSet(runner, name, family, opts.setMaxElem, state.sets.find((s) => s.name === name));
      (done === 'created' ? report.setsCreated : done === 'kept' ? report.setsKept : report.setsRebuilt).push(name);
    }
    await restoreFamily(runner, opts, 4, state.v4, report);
    if (opts.ipv6) {
      await restoreFamily(runner, opts, 6, state.v6 as FamilyInstall, report);
    } else {
      // ipv6 turned off since the last run: its rules must not linger.
      const script = renderRemoval(state.v6);
      if (script !== '') await runner.check([RESTORE[6], ...RESTORE_ARGS], { input: script });
    }
  } catch (err) {
    const e = err instanceof KernelError ? err : new KernelError(`installing rules failed: ${String(err)}`, { cause: err });
    if (report.replacedLeftovers) {
      // Each family's restore is one transaction: every family holds either its old rules or the new ones.
      e.message += ` (the rules and ban sets of the previous run were left in place, in ${opts.failOpen ? 'fail-open' : 'fail-closed'} mode: run sipwall start again, or sipwall cleanup to remove them)`;
      throw e;
    }
    try {
      // Sets that were there before this run hold bans (a flushed firewall
      // leaves ipsets behind): only what this run created goes.
      await removeRules(opts, runner, new Set(state.sets.map((x) => x.name)));
    } catch {
      // The original failure is the one worth reporting.
    }
    throw e;
  }
  // Sets our old chains referenced under other names (set4/set6 changed), and
  // the IPv6 set when ipv6 was turned off: now unused, so ours to clean.
  const current = new Set([opts.set4, ...(opts.ipv6 ? [opts.set6] : [])]);
  const stale = new Set([...state.v4.setsReferenced, ...(state.v6?.setsReferenced ?? []), ...(opts.ipv6 ? [] : [opts.set6])]);
  for (const n of current) stale.delete(n);
  if (stale.size > 0) await destroyUnreferenced(runner, stale);
  return report;
}

/**
 * Remove exactly what installRules installs: the jumps, our chains, and the
 * ban sets once nothing references them. The admin's rules are untouched; a
 * no-op when nothing of ours is present. Refuses (changing nothing) when some
 * other rule jumps into our chains. `keepSets`: set names to leave alone
 * (installRules' rollback keeps the sets that were there before it).
 */
export async function removeRules(
  input: KernelOptionsInput | KernelOptions,
  runner: CommandRunner = DEFAULT_RUNNER,
  keepSets: ReadonlySet<string> = new Set(),
): Promise<RemoveReport> {
  const opts = validateKernelOptions(input);
  const state = await findInstalled(runner, [opts.set4, opts.set6]);
  refuseForeign(state);
  const report: RemoveReport = { changed: false, removedChains: [], removedJumps: 0, destroyedSets: [], keptSets: [] };
  for (const [family, f] of [[4, state.v4], [6, state.v6]] as Array<[Family, FamilyInstall | null]>) {
    const script = renderRemoval(f);
    if (f === null || script === '') continue;
    await runner.check([RESTORE[family], ...RESTORE_ARGS], { input: script });
    const tag = family === 4 ? '' : 'ip6 ';
    if (f.banChain !== null) report.removedChains.push(`${tag}raw ${BAN_CHAIN}`);
    if (f.queueChain !== null) report.removedChains.push(`${tag}mangle ${QUEUE_CHAIN}`);
    if (f.markChain !== null) report.removedChains.push(`${tag}security ${MARK_CHAIN}`);
    if (f.outChain !== null) report.removedChains.push(`${tag}mangle ${OUT_CHAIN}`);
    report.removedJumps += f.banJumps.length + f.queueJumps.length + f.markJumps.length + f.markOutJumps.length + f.outJumps.length;
  }
  const names = new Set([opts.set4, opts.set6, ...state.v4.setsReferenced, ...(state.v6?.setsReferenced ?? [])]);
  for (const n of [...names]) names.add(n + SWAP_SUFFIX);
  for (const n of keepSets) names.delete(n);
  const [destroyed, kept] = await destroyUnreferenced(runner, names);
  report.destroyedSets = destroyed;
  report.keptSets = kept;
  report.changed = report.removedChains.length > 0 || report.removedJumps > 0 || destroyed.length > 0;
  return report;
}
