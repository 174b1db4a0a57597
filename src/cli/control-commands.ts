// The admin's commands against a running sipwall, over its control socket:
// status, bans, ban, unban, trust, reload. Every one takes --socket and
// --help; listings take --json. Bad arguments fail here, before any request.

import { SipwallError, UsageError } from '../errors.js';
import { DEFAULT_BANS_LISTED, DEFAULT_CONTROL_SOCKET, MAX_BANS_LISTED, targetProblem, type ControlReply, type ControlRequest } from './control-protocol.js';
import { controlRequest } from './control-server.js';
import { parseFlags } from './parse-flags.js';

type Out = (s: string) => void;

const SOCKET = { socket: { type: 'string' } } as const;
const SOCKET_HELP = `      --socket PATH   the control socket (default ${DEFAULT_CONTROL_SOCKET})`;

export const HELP: Record<string, string> = {
  status: `Usage: sipwall status [--json] [--socket PATH]\n\nUptime, fail mode, packet counters by verdict and reason, native hot-table\nhits and the kernel queue's health of the running sipwall.\n\n      --json          machine-readable\n${SOCKET_HELP}`,
  bans: `Usage: sipwall bans [--json] [--limit N] [--socket PATH]\n\nActive bans, newest first: source, reason, rule, seconds left, hits; and how many in all.\n\n      --json          machine-readable\n      --limit N       list the N newest (default ${DEFAULT_BANS_LISTED}, at most ${MAX_BANS_LISTED})\n${SOCKET_HELP}`,
  ban: `Usage: sipwall ban IP|CIDR [--for DURATION] [--reason TEXT] [--socket PATH]\n\nBans a source (an address, or an IPv6 prefix at the tracking length) or a\nnetwork. DURATION: 90, 90s, 15m, 12h, 7d (default 1h). A source ban is saved\nand survives a restart; a network ban lives in the kernel set until the run\nends (put a network for good in blocked: in the rules file).\n\n${SOCKET_HELP}`,
  unban: `Usage: sipwall unban IP|CIDR [--socket PATH]\n\nLifts a ban (and forgets the source's offences).\n\n${SOCKET_HELP}`,
  trust: `Usage: sipwall trust IP|CIDR [--socket PATH]\n\nTrusts a source or network until sipwall restarts (lifting any ban on it).\nFor a permanent trust put it in trusted: in the rules file.\n\n${SOCKET_HELP}`,
  reload: `Usage: sipwall reload [--socket PATH]\n\nRe-reads the rules file (like SIGHUP). A bad file is refused with the reason\nand the rules in force stay.\n\n${SOCKET_HELP}`,
};

/** "90", "90s", "15m", "12h", "7d" -> seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m?.[2] ?? ''] ?? 0;
  const s = m ? Number(m[1]) * unit : NaN;
  if (!(s >= 1 && s <= 2147483)) throw new UsageError(`sipwall ban: bad duration ${JSON.stringify(text)} (e.g. 90s, 15m, 12h, 7d; at most 24 days)`);
  return s;
}

function parseLimit(text: string): number {
  const n = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_BANS_LISTED)) throw new UsageError(`sipwall bans: --limit must be a whole number from 1 to ${MAX_BANS_LISTED}, got ${JSON.stringify(text)}`);
  return n;
}

function oneTarget(cmd: string, positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(`sipwall ${cmd}: give exactly one IP address or CIDR (see sipwall ${cmd} --help)`);
  const t = positionals[0]!;
  const problem = targetProblem(cmd, t);
  if (problem !== null) throw new UsageError(`sipwall ${cmd}: ${problem}`);
  return t;
}

async function send(socket: string | undefined, req: ControlRequest): Promise<Extract<ControlReply, { ok: true }>> {
  const reply = await controlRequest(socket ?? DEFAULT_CONTROL_SOCKET, req);
  if (!reply.ok) throw new SipwallError(`sipwall ${req.cmd}: ${reply.error}`, reply.code);
  return reply;
}

function table(rows: Array<Record<string, unknown>>, cols: string[]): string {
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(cols), ...rows.map((r) => line(cols.map((c) => String(r[c] ?? ''))))].join('\n');
}

export function controlCommand(cmd: string) {
  return async (argv: string[], out: Out): Promise<number> => {
    const listing = cmd === 'status' || cmd === 'bans';
    const { values, positionals } = parseFlags(cmd, argv, {
      ...SOCKET,
      ...(listing ? { json: { type: 'boolean' } } : {}),
      ...(cmd === 'ban' ? { for: { type: 'string' }, reason: { type: 'string' } } : {}),
      ...(cmd === 'bans' ? { limit: { type: 'string' } } : {}),
    } as const, true);
    const v = values as { help?: boolean; socket?: string; json?: boolean; for?: string; reason?: string; limit?: string };
    if (v.help === true) {
      out(HELP[cmd]!);
      return 0;
    }
    if (listing || cmd === 'reload') {
      if (positionals.length > 0) throw new UsageError(`sipwall ${cmd}: takes no arguments (see sipwall ${cmd} --help)`);
    }
    let req: ControlRequest;
    if (cmd === 'ban') {
      const reason = v.reason ?? 'banned by admin';
      if (reason.length > 200) throw new UsageError('sipwall ban: --reason is at most 200 characters');
      req = { cmd: 'ban', target: oneTarget(cmd, positionals), seconds: parseDuration(v.for ?? '1h'), reason };
    } else if (cmd === 'unban' || cmd === 'trust') {
      req = { cmd, target: oneTarget(cmd, positionals) };
    } else if (cmd === 'bans') {
      req = { cmd, limit: v.limit === undefined ? DEFAULT_BANS_LISTED : parseLimit(v.limit) };
    } else {
      req = { cmd } as ControlRequest;
    }
    const reply = await send(v.socket, req);
    const { ok: _ok, ...body } = reply;
    if (v.json === true || !listing) {
      out(JSON.stringify(body, null, listing ? 2 : undefined));
    } else if (cmd === 'bans') {
      const bans = (body['bans'] as Array<Record<string, unknown>>) ?? [];
      out(bans.length === 0 ? 'no active bans' : table(bans, ['source', 'reason', 'rule', 'secondsLeft', 'hits', 'offences']));
      const total = Number(body['total'] ?? bans.length);
      if (total > bans.length) out(`... and ${total - bans.length} more (${total} in all; sipwall bans --limit N lists more)`);
      const k = body['kernelEntries'];
      if (typeof k === 'number' && k > total) out(`the kernel ban sets hold ${k} entries (sources sipwall no longer lists, past bans.maxEntries, included)`);
    } else {
      const s = body as Record<string, any>;
      const tls = (s['tlsPorts'] as number[] | undefined) ?? [];
      out(`sipwall ${s['mode']}, up ${s['uptimeSeconds']} s, queue ${s['queue']} on ports ${s['ports']}${tls.length > 0 ? ` (TLS, not queued: ${tls.join(', ')})` : ''}, pid ${s['pid']}`);
      out(`packets ${s['packets'].total} (to engine ${s['packets'].toEngine}): accepted ${s['packets'].accepted}, dropped ${s['packets'].dropped}`);
      out(`native hot table: dropped ${s['nativeHotHits'].drop}, accepted ${s['nativeHotHits'].accept}`);
      out(`bans ${s['bansActive']}, trusted ${s['trustedSources']}, tracked sources ${s['trackedSources']}`);
      if (Number(s['rulesRestored']) > 0) out(`kernel rules removed by another tool and put back ${s['rulesRestored']} time(s): see the rules-missing lines in the log`);
      const k = s['queueHealth'].kernel;
      out(`queue health: enobufs ${s['queueHealth'].enobufs}${k ? `, kernel waiting ${k.waiting}, kernel dropped ${k.queueDropped}, user dropped ${k.userDropped}` : ''}`);
      for (const [reason, c] of Object.entries(s['packets'].byReason as Record<string, { accept: number; drop: number }>)) {
        out(`  ${reason.padEnd(16)} accept ${c.accept}  drop ${c.drop}`);
      }
    }
    return 0;
  };
}
