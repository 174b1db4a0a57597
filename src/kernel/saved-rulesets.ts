// Saved iptables rulesets that hold sipwall's own rules.
//
// `netfilter-persistent save` (Debian's iptables-persistent) or `service
// iptables save` run while sipwall is up write its chains into the file the
// host restores at boot. At boot, before sipwall starts, that file's raw
// section names the ban set in `-m set --match-set sipwall-ban4`, which does
// not exist yet (ipsets live in memory) unless ipset-persistent restores it
// first: iptables-restore stops there ("Set sipwall-ban4 doesn't exist"), and
// every table after it in the file, the admin's filter rules included
// (iptables-save prints filter last), is never loaded. The host boots with no
// firewall. sipwall cannot fix the file (it is the admin's), so `start` says
// which file and what to do.

import { closeSync, openSync, readSync } from 'node:fs';
import { BAN_CHAIN, MARK_CHAIN, OUT_CHAIN, QUEUE_CHAIN } from './kernel-options.js';

/** Where Debian's iptables-persistent and the RHEL iptables-services keep the rules restored at boot. */
export const SAVED_RULESETS: readonly string[] = ['/etc/iptables/rules.v4', '/etc/iptables/rules.v6', '/etc/sysconfig/iptables', '/etc/sysconfig/ip6tables'];

/** Only the start of a file is read: a saved ruleset with our chains names them in its first sections. */
const MAX_READ = 4 << 20;

const OURS = new RegExp(`^(:(${[QUEUE_CHAIN, BAN_CHAIN, MARK_CHAIN, OUT_CHAIN].join('|')}) |-A .* -j (${[QUEUE_CHAIN, BAN_CHAIN, MARK_CHAIN, OUT_CHAIN].join('|')})$)`, 'm');

/** The files among `paths` that hold sipwall's chains or jumps; unreadable or absent files are skipped. */
export function savedRulesetsWithOurs(paths: readonly string[] = SAVED_RULESETS): string[] {
  const found: string[] = [];
  for (const p of paths) {
    let fd: number;
    try {
      fd = openSync(p, 'r');
    } catch {
      continue;
    }
    try {
      const buf = Buffer.alloc(MAX_READ);
      const n = readSync(fd, buf, 0, MAX_READ, 0);
      if (OURS.test(buf.toString('latin1', 0, n))) found.push(p);
    } catch {
      // A directory, a FIFO, EACCES: not a ruleset we can read; nothing to say.
    } finally {
      closeSync(fd);
    }
  }
  return found;
}
