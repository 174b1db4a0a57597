// The attacker's tools: Debian's sipvicious (svmap, svwar, svcrack), as
// shipped or patched to look like a softphone (scenario 4).
//
// The patched copy lives in the run's temp dir: the package's Python
// sources with every trait sipwall's shipped rules know replaced: the
// User-Agent "friendly-scanner", svmap's From display name "sipvicious" and
// the From/Contact host 1.1.1.1. Each replacement must hit, so a sipvicious
// that changed its strings stops the lab instead of testing the wrong tool.

import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ATTACKER, PBX, SOFTPHONE_UA, pinned } from './lab-constants.js';
import { Proc } from '../lib/proc.js';
import type { Topology } from './topology.js';

const PACKAGE_DIR = '/usr/share/sipvicious/sipvicious';

export type Tool = 'svmap' | 'svwar' | 'svcrack';

const PATCHES: Array<{ file: string; from: string; to: string }> = [
  { file: 'libs/svhelper.py', from: "useragent='friendly-scanner'", to: `useragent='${SOFTPHONE_UA}'` },
  { file: 'libs/svhelper.py', from: "contact='sip:123@1.1.1.1'", to: `contact='sip:123@${ATTACKER}'` },
  { file: 'svmap.py', from: "fromname='sipvicious',fromaddr='sip:100@1.1.1.1'", to: `fromname='100',fromaddr='sip:100@${ATTACKER}'` },
  { file: 'svmap.py', from: 'dest="fromname", default="sipvicious"', to: 'dest="fromname", default="100"' },
];

/** Copies the package into dir/sipvicious-patched/sipvicious with the patches applied; returns the PYTHONPATH. */
export function patchedSipvicious(dir: string): string {
  const root = join(dir, 'sipvicious-patched');
  const pkg = join(root, 'sipvicious');
  cpSync(PACKAGE_DIR, pkg, { recursive: true });
  for (const p of PATCHES) {
    const f = join(pkg, p.file);
    const text = readFileSync(f, 'utf8');
    if (!text.includes(p.from)) throw new Error(`cannot patch sipvicious: ${p.file} has no ${p.from} (another sipvicious version?)`);
    writeFileSync(f, text.split(p.from).join(p.to));
  }
  return root;
}

export interface ToolRun {
  tool: Tool;
  argv: string[];
  exitCode: number | null;
  timedOut: boolean;
  /** Rows of the result table the tool printed (first column, second column). */
  rows: Array<[string, string]>;
  stdoutTail: string[];
  stderrTail: string;
  seconds: number;
}

/** The rows of sipvicious's result table (pptable): after the "+===" line, "| a | b |" lines. */
export function parseTable(lines: string[]): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  let inBody = false;
  for (const l of lines) {
    if (l.startsWith('+==')) {
      inBody = true;
      continue;
    }
    if (!inBody) continue;
    const m = /^\|\s*(.*?)\s*\|\s*(.*?)\s*\|$/.exec(l);
    if (m !== null) rows.push([m[1] as string, m[2] as string]);
  }
  return rows;
}

export function toolArgs(tool: Tool, opts: { method?: 'REGISTER' | 'INVITE'; extension?: string; passwords?: string; extensions?: string }): string[] {
  switch (tool) {
    case 'svmap':
      return [PBX];
    case 'svwar':
      return ['-e', opts.extensions ?? '100-999', '-m', opts.method ?? 'REGISTER', PBX];
    case 'svcrack':
      return ['-u', opts.extension ?? '103', '-r', opts.passwords ?? '1000-9999', PBX];
  }
}

/**
 * Runs one tool in the attacker namespace until it ends by itself or
 * `capSeconds` pass (then its process group is killed). HOME is the run's
 * temp dir: sipvicious may write ~/.sipvicious.
 */
export async function runTool(topo: Topology, dir: string, tool: Tool, args: string[], patched: string | null, capSeconds: number): Promise<ToolRun> {
  const env = { ...process.env, HOME: dir, PYTHONDONTWRITEBYTECODE: '1' };
  const cmd = patched === null ? [tool, ...args] : ['env', `PYTHONPATH=${patched}`, 'python3', '-m', `sipvicious.${tool}`, ...args];
  const argv = topo.argv('attacker', pinned('attacker', cmd));
  const t0 = Date.now();
  const p = new Proc(argv, { env, cwd: dir });
  // At the cap: Ctrl-C first, which sipvicious catches to print what it
  // found so far, then the whole group is killed.
  let timedOut = false;
  const cap = setTimeout(() => {
    timedOut = true;
    if (p.alive) p.child.kill('SIGINT');
  }, capSeconds * 1000);
  const code = await p.waitExit(capSeconds * 1000 + 5000);
  clearTimeout(cap);
  return {
    tool,
    argv: cmd,
    exitCode: code,
    timedOut,
    rows: parseTable(p.lines),
    stdoutTail: p.lines.slice(-12),
    stderrTail: p.stderr.slice(-1500),
    seconds: (Date.now() - t0) / 1000,
  };
}
