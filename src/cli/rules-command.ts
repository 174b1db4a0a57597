// `sipwall rules --print`: the exact iptables/ip6tables/ipset scripts that
// `sipwall start` would install, for review. Needs no privilege.
// `sipwall cleanup`: removes what sipwall installed (after a crash, say).

import { QueueError, UsageError } from '../errors.js';
import { checkPrivilege, removeRules, renderRules } from '../kernel/index.js';
import { readKernelQueueStats } from '../queue/kernel-queue-stats.js';
import { loadConfig } from '../rules/load-config.js';
import { kernelOptions } from './inline-options.js';
import { parseFlags } from './parse-flags.js';
import { configSource } from './start-command.js';

export const RULES_HELP = `Usage: sipwall rules --print [options]

Prints the ipset, iptables-restore and ip6tables-restore scripts that
sipwall start would apply, without applying anything (no root needed).

Options:
  -c, --config FILE   the admin's rules file (default /etc/sipwall/sipwall.yaml if present)
      --defaults      use the shipped defaults only
  -h, --help          this text`;

export const CLEANUP_HELP = `Usage: sipwall cleanup [options]

Removes every kernel rule, chain and ban set sipwall installed, and nothing
else. For use after a crash or kill; sipwall start does the same on its own.
Refuses while a process has the queue bound (a running or restarted
sipwall): stop it instead, it removes its rules on exit.
Needs root or CAP_NET_ADMIN (and CAP_NET_RAW with the legacy iptables backend).

Options:
  -c, --config FILE   the rules file whose inline section was used
      --defaults      use the shipped defaults only
      --force         remove them even under a running sipwall (its traffic
                      then flows unfiltered, and its bans are no longer enforced)
  -h, --help          this text`;

const CONFIG_FLAGS = { config: { type: 'string', short: 'c' }, defaults: { type: 'boolean' } } as const;

export function runRules(argv: string[], out: (s: string) => void): number {
  const { values } = parseFlags('rules', argv, { ...CONFIG_FLAGS, print: { type: 'boolean' } });
  if (values.help === true) {
    out(RULES_HELP);
    return 0;
  }
  if (values.print !== true) throw new UsageError('sipwall rules: say --print (see sipwall rules --help)');
  const { config, warnings } = loadConfig(configSource(values, 'rules'));
  // On stderr, as check prints them: the script on stdout stays a script.
  for (const w of warnings) process.stderr.write(`sipwall rules: warning: ${w}\n`);
  const r = renderRules(kernelOptions(config));
  out('# ipset (ipset restore)');
  out(r.ipset.trimEnd());
  out('# IPv4 (iptables-restore --noflush)');
  out(r.v4.trimEnd());
  if (r.v6 !== '') {
    out('# IPv6 (ip6tables-restore --noflush)');
    out(r.v6.trimEnd());
  }
  return 0;
}

export async function runCleanup(argv: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseFlags('cleanup', argv, { ...CONFIG_FLAGS, force: { type: 'boolean' } });
  if (values.help === true) {
    out(CLEANUP_HELP);
    return 0;
  }
  const { config } = loadConfig(configSource(values, 'cleanup'));
  checkPrivilege();
  const opts = kernelOptions(config);
  // A sipwall restarted by systemd after a crash is running again by the time
  // an admin types this: taking its rules away would leave it serving an
  // empty queue while the PBX goes unfiltered and no ban is enforced.
  const bound = readKernelQueueStats(opts.queueNum);
  if (bound !== null && values.force !== true) {
    throw new QueueError(
      `sipwall cleanup: queue ${opts.queueNum} is bound (netlink port ${bound.peerPortId}): a sipwall is running; stop it instead (it removes its rules on exit), or pass --force`,
    );
  }
  const report = await removeRules(opts);
  out(JSON.stringify({ event: 'cleanup', changed: report.changed, removedChains: report.removedChains, removedJumps: report.removedJumps, destroyedSets: report.destroyedSets, keptSets: report.keptSets }));
  return 0;
}
