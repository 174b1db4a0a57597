// The control socket's protocol: one JSON object per line each way, over a
// Unix socket readable by root only (or a named group). Small on purpose: a
// request names a command and its arguments; the answer is {"ok": true, ...}
// or {"ok": false, "error": "...", "code": "SIPWALL_ERR_..."}.

import { parseCidr, v4MappedForm } from '../packet/address.js';

export const DEFAULT_CONTROL_SOCKET = '/run/sipwall/control.sock';
/** Largest request line accepted; anything longer is refused and the connection closed. */
export const MAX_REQUEST_BYTES = 4096;
/**
 * Bans one `bans` answer lists, by default and at most. The answer is built
 * on the thread that gives verdicts: 262,144 bans (bans.maxEntries' default)
 * took about half a second and 29 MB; the count is always whole.
 */
export const DEFAULT_BANS_LISTED = 1000;
export const MAX_BANS_LISTED = 100_000;

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'bans'; limit?: number }
  | { cmd: 'ban'; target: string; seconds: number; reason: string }
  | { cmd: 'unban'; target: string }
  | { cmd: 'trust'; target: string }
  | { cmd: 'reload' };

export type ControlReply = { ok: true; [k: string]: unknown } | { ok: false; error: string; code: string };

const COMMANDS = new Set(['status', 'bans', 'ban', 'unban', 'trust', 'reload']);

/** Checks a parsed request's shape; returns an error text or null. */
export function requestProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'request must be a JSON object';
  const r = v as Record<string, unknown>;
  if (typeof r['cmd'] !== 'string' || !COMMANDS.has(r['cmd'])) return `unknown command ${JSON.stringify(r['cmd'])}`;
  if (r['cmd'] === 'ban' || r['cmd'] === 'unban' || r['cmd'] === 'trust') {
    if (typeof r['target'] !== 'string' || r['target'].length > 64) return 'target must be an address or CIDR';
    const problem = targetProblem(r['cmd'], r['target']);
    if (problem !== null) return problem;
  }
  if (r['cmd'] === 'bans' && r['limit'] !== undefined) {
    const n = r['limit'];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_BANS_LISTED) return `limit must be a whole number from 1 to ${MAX_BANS_LISTED}`;
  }
  if (r['cmd'] === 'ban') {
    const s = r['seconds'];
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > 2147483) return 'seconds must be a whole number from 1 to 2147483';
    if (typeof r['reason'] !== 'string' || r['reason'].length > 200) return 'reason must be text of at most 200 characters';
  }
  return null;
}

/**
 * Why `text` cannot be what `cmd` (ban, unban, trust) acts on, or null.
 * Checked by the command before sending and by sipwall on receipt.
 */
export function targetProblem(cmd: string, text: string): string | null {
  const c = parseCidr(text);
  if (c === null) return `${JSON.stringify(text)} is not an IP address or CIDR`;
  // Keyed per IPv6 /64, ::ffff:1.2.3.4 would have banned ::/64, matching nothing.
  const v4 = v4MappedForm(c);
  if (v4 !== null) return `${text} is an IPv4-mapped IPv6 address, which no packet carries as its source; give ${v4}`;
  // unban of a /0 lifts every ban of the family, which has its use.
  if (c.prefix === 0 && cmd !== 'unban') {
    return `${text} is every address: ${cmd === 'ban' ? 'banning it cuts every phone off' : 'trusting it turns the filter off'}; give a source or a narrower network`;
  }
  return null;
}
