#!/usr/bin/env -S node --no-memory-reducer
// The `sipwall` command: one table of subcommands, one place that turns
// errors into a one-line message ending in the error's stable code, and an
// exit status (src/errors.ts).

import { readFileSync } from 'node:fs';
import { errorLine, EXIT_CODES, SipwallError, UsageError } from '../errors.js';
import { runCheck } from './check-command.js';
import { controlCommand } from './control-commands.js';
import { runCleanup, runRules } from './rules-command.js';
import { runStart } from './start-command.js';
import { runWatch } from './watch-command.js';

type Command = (argv: string[], out: (s: string) => void, err: (s: string) => void) => number | Promise<number>;

const COMMANDS: Record<string, { run: Command; about: string }> = {
  start: { run: runStart, about: 'go inline: install kernel rules, bind the queue, judge SIP until stopped' },
  watch: { run: runWatch, about: 'shadow mode: judge live traffic on an interface, change nothing, log what would be dropped' },
  check: { run: runCheck, about: 'judge capture or SIP message files offline, print JSON per packet' },
  rules: { run: runRules, about: 'print the kernel rules sipwall would install (--print), no root needed' },
  cleanup: { run: runCleanup, about: 'remove every kernel rule and ban set sipwall installed' },
  status: { run: controlCommand('status'), about: 'uptime, mode, counters and queue health of the running sipwall' },
  bans: { run: controlCommand('bans'), about: 'list active bans (source, reason, time left, hits)' },
  ban: { run: controlCommand('ban'), about: 'ban an address or network: ban IP|CIDR [--for DURATION] [--reason TEXT]' },
  unban: { run: controlCommand('unban'), about: 'lift a ban: unban IP|CIDR' },
  trust: { run: controlCommand('trust'), about: 'trust an address or network until restart: trust IP|CIDR' },
  reload: { run: controlCommand('reload'), about: 're-read the rules file (a bad file is refused, the old rules stay)' },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.about}`);
  return `Usage: sipwall COMMAND [options]\n\nCommands:\n${lines.join('\n')}\n\nsipwall COMMAND --help shows a command's options. sipwall --version prints the version.`;
}

export async function main(argv: string[]): Promise<number> {
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  const err = (s: string): void => void process.stderr.write(`${s}\n`);
  try {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      out(usage());
      return name === undefined ? 64 : 0;
    }
    if (name === '--version' || name === '-V') {
      out(version());
      return 0;
    }
    const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (cmd === undefined) throw new UsageError(`sipwall: unknown command ${JSON.stringify(name)} (commands: ${Object.keys(COMMANDS).join(', ')})`);
    return await cmd.run(rest, out, err);
  } catch (e) {
    if (e instanceof SipwallError) {
      err(errorLine(e));
      return EXIT_CODES[e.code] ?? 70;
    }
    err(`sipwall: internal error: ${(e as Error).stack ?? String(e)}`);
    return 70;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 70;
  },
);
