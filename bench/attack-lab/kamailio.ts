// Kamailio (Debian's package) as the PBX: registrar and digest auth with no
// database (passwords in an htable filled at start), 404 for unknown users,
// INVITEs between registered extensions relayed statefully. Its config, pid
// file, runtime dir and log are in the run's temp dir; nothing of the host's
// /etc/kamailio is read.
//
// Every request Kamailio receives is logged with its arrival time (that is
// "a request that reached the PBX"); authentication failures and unknown
// users get their own lines, with a date fail2ban's date detector knows.
//
// Like many real PBX configs, it answers an INVITE for an unknown user with
// 404 before asking for credentials, and a REGISTER for an unknown user with
// 404 instead of a challenge: both leak which extensions exist, which is
// what svwar measures (an INVITE scan of a PBX that challenges everything
// finds nothing, filter or not).

import { createReadStream, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EXTENSIONS, PBX, SECRET_HOST, SIP_PORT, pinned } from './lab-constants.js';
import { Proc, sleep } from '../lib/proc.js';
import type { Topology } from './topology.js';

const MODULES = ['tm', 'sl', 'rr', 'pv', 'maxfwd', 'usrloc', 'registrar', 'textops', 'siputils', 'xlog', 'auth', 'htable'];

function moduleDir(): string {
  // Debian's multiarch path; the package installs the modules there.
  return `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/kamailio/modules/`;
}

export function kamailioConfig(): string {
  const users = Object.entries(EXTENSIONS)
    .map(([ext, pw]) => `  $sht(users=>${ext}) = "${pw}";`)
    .join('\n');
  // $timef gives the local date for fail2ban; $TV(Sn) the arrival time in
  // epoch seconds with microseconds for the lab's own counting.
  const stamp = '$timef(%Y-%m-%d %H:%M:%S)';
  return `#!KAMAILIO
# Written by bench/attack-lab (sipwall's attack lab). Not for production.
debug=2
log_stderror=yes
children=4
listen=udp:${PBX}:${SIP_PORT}
alias="${SECRET_HOST}"
auto_aliases=no
server_header="Server: kamailio"
mpath="${moduleDir()}"
${MODULES.map((m) => `loadmodule "${m}.so"`).join('\n')}
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", 4)
modparam("htable", "htable", "users=>size=4;")

event_route[htable:mod-init] {
${users}
}

request_route {
  if (is_present_hf("Authorization") || is_present_hf("Proxy-Authorization")) $var(cred) = 1; else $var(cred) = 0;
  xlog("L_NOTICE", "REQ ${stamp} t=$TV(Sn) m=$rm src=$si cred=$var(cred) ru=$ru\\n");
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
  if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
  if (is_method("REGISTER")) {
    if ($sht(users=>$tU) == $null) {
      xlog("L_NOTICE", "NOUSER ${stamp} m=$rm user=$tU src=$si\\n");
      sl_send_reply("404", "Not Found");
      exit;
    }
    pv_www_authenticate("$td", "$sht(users=>$tU)", "0");
    $var(rc) = $rc;
    if ($var(rc) < 0 || $au != $tU) {
      if ($var(cred) == 1) xlog("L_NOTICE", "AUTHFAIL ${stamp} m=$rm user=$tU src=$si rc=$var(rc)\\n");
      # qop=auth: sipvicious 0.3.3 sends qop=auth without cnonce/nc when
      # the challenge has no qop, which Kamailio refuses as malformed.
      www_challenge("$td", "1");
      exit;
    }
    consume_credentials();
    if (!save("location")) sl_reply_error();
    exit;
  }
  if (is_method("INVITE")) {
    if ($sht(users=>$rU) == $null) {
      xlog("L_NOTICE", "NOUSER ${stamp} m=$rm user=$rU src=$si\\n");
      sl_send_reply("404", "Not Found");
      exit;
    }
    if ($sht(users=>$fU) == $null) { sl_send_reply("403", "Forbidden"); exit; }
    pv_proxy_authenticate("$fd", "$sht(users=>$fU)", "0");
    $var(rc) = $rc;
    if ($var(rc) < 0 || $au != $fU) {
      if ($var(cred) == 1) xlog("L_NOTICE", "AUTHFAIL ${stamp} m=$rm user=$fU src=$si rc=$var(rc)\\n");
      proxy_challenge("$fd", "1");
      exit;
    }
    consume_credentials();
    if (!lookup("location")) { sl_send_reply("480", "Temporarily Unavailable"); exit; }
    record_route();
    t_relay();
    exit;
  }
  sl_send_reply("405", "Method Not Allowed");
}
`;
}

export class Kamailio {
  readonly log: string;
  readonly #proc: Proc;

  private constructor(proc: Proc, log: string) {
    this.#proc = proc;
    this.log = log;
  }

  get pid(): number {
    return this.#proc.pid;
  }

  static async start(topo: Topology, dir: string): Promise<Kamailio> {
    const cfg = join(dir, 'kamailio.cfg');
    const run = join(dir, 'kamailio-run');
    mkdirSync(run, { recursive: true });
    writeFileSync(cfg, kamailioConfig());
    const log = join(dir, 'kamailio.log');
    writeFileSync(log, '');
    // -DD: foreground, children forked; -E: log to stderr (the log file).
    const proc = new Proc(topo.argv('pbx', pinned('pbx', ['kamailio', '-f', cfg, '-DD', '-E', '-P', join(run, 'kamailio.pid'), '-Y', run, '-w', run])), { logFile: log });
    const k = new Kamailio(proc, log);
    // Ready when its UDP socket is bound (datagrams queue there until a child reads them).
    for (let i = 0; i < 100; i++) {
      if (!proc.alive) break;
      const out = topo.exec('pbx', ['ss', '-Hlun', `sport = :${SIP_PORT}`]);
      if (out.includes(`${PBX}:${SIP_PORT}`)) {
        await sleep(200); // the children start right after the bind
        return k;
      }
      await sleep(50);
    }
    await proc.stop(1000);
    throw new Error(`kamailio did not start (log ${log})`);
  }

  async stop(): Promise<void> {
    await this.#proc.stop(5000);
  }
}

/** What reached Kamailio from one class of sources. */
export interface Arrivals {
  requests: number;
  /** Requests carrying Authorization/Proxy-Authorization: password guesses, for an attacker. */
  withCredentials: number;
  byMethod: Record<string, number>;
  /** Epoch seconds of the first and last request. */
  first: number | null;
  last: number | null;
  /** Requests per second since the run's t0 (index = whole seconds). */
  perSecond: number[];
  /** Distinct source addresses seen. */
  sources: number;
}

function emptyArrivals(): Arrivals {
  return { requests: 0, withCredentials: 0, byMethod: {}, first: null, last: null, perSecond: [], sources: 0 };
}

export interface KamailioLog {
  attacker: Arrivals;
  legit: Arrivals;
  other: number;
  authFailures: number;
  unknownUser: number;
}

const REQ = /REQ \S+ \S+ t=(\d+\.\d+) m=(\S+) src=(\S+) cred=(\d)/;

/** Reads Kamailio's log (streamed: a flood writes millions of lines) and sorts the requests by source. */
export async function readKamailioLog(file: string, t0: number, isAttacker: (ip: string) => boolean, isLegit: (ip: string) => boolean): Promise<KamailioLog> {
  const out: KamailioLog = { attacker: emptyArrivals(), legit: emptyArrivals(), other: 0, authFailures: 0, unknownUser: 0 };
  const seen = { attacker: new Set<string>(), legit: new Set<string>() };
  const rl = createInterface({ input: createReadStream(file, { encoding: 'latin1' }), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.includes(' AUTHFAIL ')) {
      out.authFailures++;
      continue;
    }
    if (line.includes(' NOUSER ')) {
      out.unknownUser++;
      continue;
    }
    const m = REQ.exec(line);
    if (m === null) continue;
    const t = Number(m[1]);
    const src = m[3] as string;
    const which = isAttacker(src) ? 'attacker' : isLegit(src) ? 'legit' : null;
    if (which === null) {
      out.other++;
      continue;
    }
    const a = out[which];
    a.requests++;
    if (m[4] === '1') a.withCredentials++;
    const method = m[2] as string;
    a.byMethod[method] = (a.byMethod[method] ?? 0) + 1;
    a.first = a.first === null ? t : Math.min(a.first, t);
    a.last = a.last === null ? t : Math.max(a.last, t);
    const sec = Math.max(0, Math.floor(t - t0 / 1000));
    while (a.perSecond.length <= sec) a.perSecond.push(0);
    a.perSecond[sec] = (a.perSecond[sec] ?? 0) + 1;
    const s = seen[which];
    if (s.size < 1_000_000) s.add(src);
  }
  out.attacker.sources = seen.attacker.size;
  out.legit.sources = seen.legit.size;
  return out;
}
