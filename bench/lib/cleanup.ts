// Everything a bench (the attack lab, the inline bench) starts is registered here and stopped on every way out:
// normal end, an exception, SIGINT/SIGTERM/SIGHUP. Processes run in their own
// process group (spawned detached) and are killed by group, so Kamailio's
// children and the shells of a tool die with them. Namespaces are deleted
// after the processes still inside them (`ip netns pids`) are killed: a
// namespace whose name is gone but whose processes live on would keep
// Kamailio's socket and sipwall's queue alive.

import { spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set<ChildProcess>();
const namespaces = new Set<string>();
const tmpDirs = new Set<string>();

export function trackChild(c: ChildProcess): void {
  children.add(c);
  c.on('close', () => children.delete(c));
  c.on('error', () => children.delete(c));
}

export function trackNamespace(name: string): void {
  namespaces.add(name);
}

export function trackTmpDir(dir: string): void {
  tmpDirs.add(dir);
}

/** Kills a child's whole process group (it was spawned detached, so its pid is the group id). */
export function killGroup(c: ChildProcess, sig: NodeJS.Signals = 'SIGKILL'): void {
  if (c.pid === undefined) return;
  try {
    process.kill(-c.pid, sig);
  } catch {
    try {
      c.kill(sig);
    } catch {
      // already gone
    }
  }
}

function nsPids(name: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: 5000 });
  return (r.stdout ?? '').split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** Kills what is left in a namespace of ours, then deletes it. */
export function deleteNamespace(name: string): void {
  for (const pid of nsPids(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 10_000 });
  namespaces.delete(name);
}

export function cleanupSync(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) killGroup(c);
  children.clear();
  for (const ns of [...namespaces]) deleteNamespace(ns);
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  tmpDirs.clear();
}

let installed = false;

/** Installs the exit and signal handlers once. */
export function installCleanupHandlers(name: string): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      console.error(`\n${name}: ${sig}, cleaning up`);
      cleanupSync();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (e) => {
    console.error(`${name}:`, e);
    cleanupSync();
    process.exit(1);
  });
}

/** Whether a process runs (a zombie, dead but not yet reaped by a parent or init, does not). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Namespaces of an earlier run whose process is gone (killed with SIGKILL,
 * machine reset): their processes are killed and they are deleted, and that
 * run's temp dir removed. Both are named `<prefix>-<pid>-...`.
 */
export function reapStale(prefix: string): void {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^${prefix}-(\\d+)-`).exec(name);
    if (m === null || Number(m[1]) === process.pid) continue;
    if (alive(Number(m[1]))) continue; // that run is still going
    deleteNamespace(name);
  }
  // Its temp dir (configs, logs), named after its pid too.
  for (const name of readdirSync(tmpdir())) {
    const m = new RegExp(`^${prefix}-(\\d+)-`).exec(name);
    if (m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}
