// Runs a module script in a child `node --trace-gc` and counts the garbage
// collections V8 reports between the script's MEASURE-START and MEASURE-END
// lines: the way allocation-free claims are checked without timing anything.

import { spawnSync } from 'node:child_process';

export interface GcCount {
  status: number | null;
  stderr: string;
  /** Whether the child printed both markers. */
  ran: boolean;
  /** The GC trace lines seen while measuring. */
  collections: string[];
}

export function gcDuringMeasure(script: string, timeoutMs: number): GcCount {
  // Without V8's memory reducer, as `sipwall start` runs (gc-tuning.ts): it
  // starts full collections on a timer ("Mark-Compact (reduce)"), not on
  // allocation, and on a loaded machine the measured loop runs long enough
  // to meet them.
  const r = spawnSync(process.execPath, ['--trace-gc', '--no-memory-reducer', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: timeoutMs });
  const out = r.stdout ?? '';
  const start = out.indexOf('MEASURE-START');
  const end = out.indexOf('MEASURE-END');
  const ran = start >= 0 && end > start;
  const collections = ran ? out.slice(start, end).split('\n').filter((l) => /Scavenge|Mark-Compact|Mark-sweep/i.test(l)) : [];
  return { status: r.status, stderr: r.stderr ?? '', ran, collections };
}
