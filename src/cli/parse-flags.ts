// Thin wrapper over node:util parseArgs (strict: unknown flags and missing
// values are errors) that turns its exceptions into one-line UsageErrors.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * `positionals`: whether the command takes arguments besides flags. When it
 * does not, one is an error: "sipwall start /etc/sipwall/x.yaml" (the -c
 * forgotten) must not go inline with the default rules.
 */
export function parseFlags<O extends FlagSpec>(command: string, argv: string[], options: O, positionals = false) {
  const all = { ...options, ...HELP } as O & typeof HELP;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: all, strict: true as const, allowPositionals: true as const, tokens: true as const });
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? 'bad arguments';
    throw new UsageError(`sipwall ${command}: ${msg.replace(/\. To specify a positional argument.*$/, '')} (see sipwall ${command} --help)`);
  }
  // parseArgs keeps the last of a repeated flag: "check -c a.yaml -c b.yaml"
  // would drop a.yaml without a word. A flag meant to repeat says `multiple`.
  const seen = new Set<string>();
  for (const tk of parsed.tokens) {
    if (tk.kind !== 'option' || (all[tk.name] as { multiple?: boolean } | undefined)?.multiple === true) continue;
    if (seen.has(tk.name)) throw new UsageError(`sipwall ${command}: ${tk.rawName} given more than once (see sipwall ${command} --help)`);
    seen.add(tk.name);
  }
  if (!positionals && parsed.positionals.length > 0 && (parsed.values as { help?: boolean }).help !== true) {
    const hint = 'config' in options ? '; a rules file is given with -c FILE' : '';
    throw new UsageError(`sipwall ${command}: unexpected argument ${JSON.stringify(parsed.positionals[0])}${hint} (see sipwall ${command} --help)`);
  }
  return parsed;
}

/** Parses a port range "5060-5082" or a single port. */
export function parsePortRange(command: string, text: string): [number, number] {
  const m = /^(\d{1,5})(?:[-:](\d{1,5}))?$/.exec(text);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(lo >= 1 && hi <= 65535 && lo <= hi)) throw new UsageError(`sipwall ${command}: bad port range ${JSON.stringify(text)} (expected e.g. 5060-5082)`);
  return [lo, hi];
}
