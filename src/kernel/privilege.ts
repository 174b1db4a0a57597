// Changing iptables rules, ipsets and binding an NFQUEUE all need
// CAP_NET_ADMIN in the network namespace (nfnetlink checks it per message via
// netlink_net_capable()). Checking up front turns a half-applied setup and a
// cryptic "Permission denied (you must be root)" from iptables into one clear
// message, before anything is changed.

import { readFileSync } from 'node:fs';
import { PermissionError } from '../errors.js';

/** CAP_NET_ADMIN's bit number (include/uapi/linux/capability.h). */
export const CAP_NET_ADMIN = 12;

/** Whether a /proc/<pid>/status text shows CAP_NET_ADMIN in the effective set. */
export function hasNetAdmin(statusText: string): boolean {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText);
  if (m?.[1] === undefined) return false;
  return ((BigInt(`0x${m[1]}`) >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n;
}

/**
 * Throw PermissionError unless this process may manage netfilter: root, or
 * any user holding CAP_NET_ADMIN in its effective set. Root with the
 * capability dropped (a restricted container) fails too: CapEff is what the
 * kernel checks, not the uid.
 */
export function checkPrivilege(): void {
  let status: string;
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch (err) {
    throw new PermissionError(`cannot read /proc/self/status to check for CAP_NET_ADMIN: ${(err as Error).message}`);
  }
  if (hasNetAdmin(status)) return;
  const uid = process.geteuid?.() ?? -1;
  const who = uid === 0 ? 'running as root but without CAP_NET_ADMIN (dropped by the container or service manager)' : `running as uid ${uid} without CAP_NET_ADMIN`;
  throw new PermissionError(
    `sipwall must manage iptables, ipset and NFQUEUE, which needs root or CAP_NET_ADMIN; ${who}. ` +
      'Run it as root, or grant the capability (systemd: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW).',
  );
}
