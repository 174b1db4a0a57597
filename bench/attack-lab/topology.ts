// The lab's three namespaces, made fresh for every run of a scenario under a
// setup (no conntrack entry, recent list, ipset or ban of one run leaks into
// the next):
//
//   attacker ns ──veth── ┐
//                        br0 (pbx ns, 10.66.0.1/24)   Kamailio, filter
//   phone ns ────veth── ┘
//
// No interface ever exists in the host namespace: each veth is created in
// the attacker/phone namespace with its peer moved straight into the pbx
// namespace, so no traffic can leave the lab.

import { execFileSync } from 'node:child_process';
import { deleteNamespace, trackNamespace } from '../lib/cleanup.js';
import { ATTACKER, BARESIP, LAN_PREFIX, NS_PREFIX, PBX, SIPP, SPOOF_NET } from './lab-constants.js';

let counter = 0;

function run(argv: string[], input?: string): string {
  return execFileSync(argv[0] as string, argv.slice(1), { input: input ?? '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
}

function mac(ns: string, dev: string): string {
  const m = /link\/ether ([0-9a-f:]{17})/.exec(run(['ip', '-n', ns, 'link', 'show', dev]));
  if (m?.[1] === undefined) throw new Error(`no MAC on ${ns}/${dev}`);
  return m[1];
}

export class Topology {
  readonly pbx: string;
  readonly attacker: string;
  readonly phone: string;

  private constructor(n: number) {
    this.pbx = `${NS_PREFIX}-${process.pid}-${n}-pbx`;
    this.attacker = `${NS_PREFIX}-${process.pid}-${n}-atk`;
    this.phone = `${NS_PREFIX}-${process.pid}-${n}-phn`;
  }

  static create(): Topology {
    const t = new Topology(counter++);
    try {
      for (const ns of [t.pbx, t.attacker, t.phone]) {
        run(['ip', 'netns', 'add', ns]);
        trackNamespace(ns);
        run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      }
      run(['ip', '-n', t.pbx, 'link', 'add', 'br0', 'type', 'bridge']);
      for (const [ns, port] of [[t.attacker, 'atk0'], [t.phone, 'phn0']] as const) {
        run(['ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', t.pbx]);
        run(['ip', '-n', t.pbx, 'link', 'set', port, 'master', 'br0']);
        run(['ip', '-n', t.pbx, 'link', 'set', port, 'up']);
      }
      run(['ip', '-n', t.pbx, 'addr', 'add', `${PBX}/${LAN_PREFIX}`, 'dev', 'br0']);
      run(['ip', '-n', t.pbx, 'link', 'set', 'br0', 'up']);
      run(['ip', '-n', t.attacker, 'addr', 'add', `${ATTACKER}/${LAN_PREFIX}`, 'dev', 'eth0']);
      for (const a of [BARESIP, SIPP]) run(['ip', '-n', t.phone, 'addr', 'add', `${a}/${LAN_PREFIX}`, 'dev', 'eth0']);
      for (const ns of [t.attacker, t.phone]) run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      // The spoofed flood's sources live behind the attacker: the PBX
      // routes its answers to them back there. Reverse-path filtering off so
      // a distribution default cannot drop them before the filter sees them.
      run(['ip', '-n', t.pbx, 'route', 'add', SPOOF_NET, 'via', ATTACKER, 'dev', 'br0']);
      for (const k of ['all', 'default', 'br0']) t.exec('pbx', ['sysctl', '-q', '-w', `net.ipv4.conf.${k}.rp_filter=0`]);
      // The PBX's answers to spoofed sources reach the attacker's interface
      // and die there quietly (not its address, forwarding off: a new
      // namespace's default), as they would on the internet.
      //
      // The attacker namespace transmits nothing but the attack, so that
      // the packets its interface sent tell when the attack was on (see
      // attacker-meter.ts): no IPv6 (router solicitations, MLD), no ICMP
      // port-unreachable for answers arriving after a tool exited, no ARP
      // (permanent neighbours both ways, which also keeps ARP off the
      // measured path).
      for (const k of ['all', 'default', 'eth0']) t.exec('attacker', ['sysctl', '-q', '-w', `net.ipv6.conf.${k}.disable_ipv6=1`]);
      t.exec('attacker', ['iptables', '-A', 'OUTPUT', '-p', 'icmp', '-j', 'DROP']);
      run(['ip', '-n', t.attacker, 'neigh', 'replace', PBX, 'lladdr', mac(t.pbx, 'br0'), 'dev', 'eth0', 'nud', 'permanent']);
      run(['ip', '-n', t.pbx, 'neigh', 'replace', ATTACKER, 'lladdr', mac(t.attacker, 'eth0'), 'dev', 'br0', 'nud', 'permanent']);
    } catch (e) {
      t.destroy();
      throw e;
    }
    return t;
  }

  nsName(role: 'pbx' | 'attacker' | 'phone'): string {
    return role === 'pbx' ? this.pbx : role === 'attacker' ? this.attacker : this.phone;
  }

  /** argv prefix to run a command in one of the namespaces. */
  argv(role: 'pbx' | 'attacker' | 'phone', cmd: string[]): string[] {
    return ['ip', 'netns', 'exec', this.nsName(role), ...cmd];
  }

  exec(role: 'pbx' | 'attacker' | 'phone', cmd: string[], input?: string): string {
    return run(this.argv(role, cmd), input);
  }

  destroy(): void {
    for (const ns of [this.attacker, this.phone, this.pbx]) deleteNamespace(ns);
  }
}
