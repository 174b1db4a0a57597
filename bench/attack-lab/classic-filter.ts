// Setup "classic": what admins run today. The iptables string/recent recipe
// (scanner User-Agents dropped with -m string, a -m recent whitelist for
// sources that name the secret hostname, REGISTER and INVITE rate limits
// with -m recent at the same thresholds as sipwall's defaults) plus
// fail2ban watching Kamailio's log with fail2ban's stock thresholds.
//
// fail2ban runs inside the pbx namespace (its iptables actions land there)
// with its configuration, socket, pid file, database and log in the run's
// temp dir. From the host's /etc/fail2ban it only copies the stock iptables
// action files and reads the [DEFAULT] thresholds of jail.conf; fail2ban
// 1.0.2 ships no Kamailio filter, so the lab writes a minimal one for the
// two lines its Kamailio config logs (wrong password, unknown user), the
// same two events fail2ban's shipped asterisk filter catches.

import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT, SECRET_HOST, pinned } from './lab-constants.js';
import { Proc, sleep } from '../lib/proc.js';
import type { Filter } from './filter.js';
import type { Topology } from './topology.js';

const PORTS = '5060:5082';
const F2B_ETC = '/etc/fail2ban';

/** Rate limits of the recipe: the same as sipwall's shipped defaults. */
function shippedRateLimits(): { register: { limit: number; windowSeconds: number }; invite: { limit: number; windowSeconds: number } } {
  const y = parseYaml(readFileSync(join(ROOT, 'rules', 'default.yaml'), 'utf8')) as { rateLimits: Record<string, { limit: number; windowSeconds: number }> };
  return { register: y.rateLimits['register'] as { limit: number; windowSeconds: number }, invite: y.rateLimits['invite'] as { limit: number; windowSeconds: number } };
}

export function classicRules(): string[] {
  const yaml = parseYaml(readFileSync(join(ROOT, 'rules', 'default.yaml'), 'utf8')) as { userAgents: Record<string, { match: string; enabled?: boolean }> };
  const uas = Object.values(yaml.userAgents).filter((u) => u.enabled !== false).map((u) => u.match);
  const q = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;
  const rl = shippedRateLimits();
  // -m recent remembers at most ip_pkt_list_tot (default 20) hits per
  // source, so a hitcount above 20 is refused by the kernel: the shipped 20 fits.
  const lines = ['*filter', ':SIPCLASSIC - [0:0]', `-A INPUT -p udp -m udp --dport ${PORTS} -j SIPCLASSIC`];
  // Scanner User-Agents, case-sensitive as the recipe writes them.
  for (const ua of uas) lines.push(`-A SIPCLASSIC -m string --string ${q(ua)} --algo bm -j DROP`);
  lines.push(`-A SIPCLASSIC -m string --string ${q(SECRET_HOST)} --algo bm -m recent --set --name sipok --rsource`);
  lines.push('-A SIPCLASSIC -m recent --rcheck --seconds 3600 --name sipok --rsource -j ACCEPT');
  for (const [method, list, l] of [['REGISTER', 'sipreg', rl.register], ['INVITE', 'sipinv', rl.invite]] as const) {
    lines.push(`-A SIPCLASSIC -m string --string ${q(`${method} sip:`)} --algo bm -m recent --set --name ${list} --rsource`);
    lines.push(`-A SIPCLASSIC -m string --string ${q(`${method} sip:`)} --algo bm -m recent --rcheck --seconds ${l.windowSeconds} --hitcount ${l.limit} --name ${list} --rsource -j DROP`);
  }
  lines.push('COMMIT', '');
  return lines;
}

interface Thresholds {
  bantime: string;
  findtime: string;
  maxretry: string;
}

/** [DEFAULT] bantime/findtime/maxretry of the package's jail.conf (fail2ban's documented defaults if unreadable). */
export function stockThresholds(): Thresholds {
  const t: Thresholds = { bantime: '10m', findtime: '10m', maxretry: '5' };
  let text = '';
  try {
    text = readFileSync(join(F2B_ETC, 'jail.conf'), 'utf8');
  } catch {
    return t;
  }
  let inDefault = false;
  for (const line of text.split('\n')) {
    const sec = /^\[([^\]]+)\]/.exec(line);
    if (sec !== null) {
      inDefault = sec[1] === 'DEFAULT';
      continue;
    }
    if (!inDefault) continue;
    const m = /^(bantime|findtime|maxretry)\s*=\s*(\S+)/.exec(line);
    if (m !== null) t[m[1] as keyof Thresholds] = m[2] as string;
  }
  return t;
}

export const F2B_FILTER = `# Written by bench/attack-lab: Kamailio's wrong-password and unknown-user lines.
[Definition]
failregex = \\bAUTHFAIL\\b.* src=<HOST>(?:\\s|$)
            \\bNOUSER\\b.* src=<HOST>(?:\\s|$)
ignoreregex =
`;

function writeF2bConfig(dir: string, kamailioLog: string): { conf: string; sock: string; pid: string; log: string; thresholds: Thresholds } {
  const conf = join(dir, 'fail2ban');
  mkdirSync(join(conf, 'action.d'), { recursive: true });
  mkdirSync(join(conf, 'filter.d'), { recursive: true });
  for (const f of ['iptables.conf', 'iptables-multiport.conf']) {
    const src = join(F2B_ETC, 'action.d', f);
    if (!existsSync(src)) throw new Error(`${src} missing: is fail2ban installed?`);
    copyFileSync(src, join(conf, 'action.d', f));
  }
  const sock = join(dir, 'fail2ban.sock');
  const pid = join(dir, 'fail2ban.pid');
  const log = join(dir, 'fail2ban.log');
  writeFileSync(
    join(conf, 'fail2ban.conf'),
    `[Definition]\nloglevel = INFO\nlogtarget = ${log}\nsocket = ${sock}\npidfile = ${pid}\ndbfile = ${join(dir, 'fail2ban.sqlite3')}\ndbpurgeage = 1d\n`,
  );
  writeFileSync(join(conf, 'filter.d', 'kamailio-lab.conf'), F2B_FILTER);
  const th = stockThresholds();
  writeFileSync(
    join(conf, 'jail.conf'),
    [
      '[DEFAULT]',
      `bantime = ${th.bantime}`,
      `findtime = ${th.findtime}`,
      `maxretry = ${th.maxretry}`,
      'backend = auto',
      'ignoreself = true',
      'ignoreip = 127.0.0.1/8',
      '',
      '[kamailio-lab]',
      'enabled = true',
      'filter = kamailio-lab',
      `logpath = ${kamailioLog}`,
      `action = iptables-multiport[name=kamailio, port="${PORTS}", protocol=udp]`,
      '',
    ].join('\n'),
  );
  return { conf, sock, pid, log, thresholds: th };
}

export async function startClassic(topo: Topology, dir: string, kamailioLog: string): Promise<Filter> {
  const rules = classicRules();
  topo.exec('pbx', ['iptables-restore', '--noflush'], rules.join('\n'));
  const f = writeF2bConfig(dir, kamailioLog);
  const proc = new Proc(topo.argv('pbx', pinned('pbx', ['fail2ban-server', '-f', '-x', '-c', f.conf, '-s', f.sock, '-p', f.pid, '--logtarget', f.log])));
  // Ready when the jail is watching the log. (Its iptables chain appears
  // only with the first ban: fail2ban starts actions on demand.)
  let ready = false;
  for (let i = 0; i < 150 && proc.alive; i++) {
    try {
      if (readFileSync(f.log, 'utf8').includes("Jail 'kamailio-lab' started")) {
        ready = true;
        break;
      }
    } catch {
      // no log yet
    }
    await sleep(100);
  }
  if (!ready) {
    await proc.stop(2000);
    let log = '';
    try {
      log = readFileSync(f.log, 'utf8').split('\n').slice(-8).join('\n');
    } catch {
      // none
    }
    throw new Error(`fail2ban did not start its jail: ${proc.stderr.slice(0, 500)} ${log}`);
  }
  return {
    name: 'classic',
    pid: () => proc.pid,
    stop: async () => {
      await proc.stop(5000);
    },
    extra: () => {
      let bans = 0;
      try {
        bans = (readFileSync(f.log, 'utf8').match(/\] Ban /g) ?? []).length;
      } catch {
        // no log
      }
      return { rules: rules.filter((l) => l.startsWith('-A')), fail2banThresholds: f.thresholds, fail2banBans: bans };
    },
  };
}
