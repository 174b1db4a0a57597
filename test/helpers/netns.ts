// Network namespaces for kernel-path tests: two namespaces joined by a veth
// pair, with IPv4 and IPv6 addresses, and helpers to run commands inside them.
//
// Names carry a caller prefix plus the pid and a counter, so tests running in
// parallel (and other engineers' tests on the same host) never collide.
// Addresses are the same in every pair: each pair lives in its own namespaces.
// IPv6 addresses are added with `nodad` so they are usable at once (no
// Duplicate Address Detection wait, RFC 4862 5.4).

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface NetnsPairOptions {
  /** Short tag for the namespace names, e.g. 'swq'. */
  prefix: string;
  /** First three octets of the /24, default '10.200.1'. Client gets .1, server .2. */
  v4Net?: string;
  /** IPv6 /64 prefix without the trailing '::', default 'fd00:5157:1'. Client ::1, server ::2. */
  v6Net?: string;
}

export interface NetnsPair {
  /** Namespace names. */
  readonly client: string;
  readonly server: string;
  /** Interface name of the veth end inside each namespace. */
  readonly ifname: string;
  readonly clientV4: string;
  readonly serverV4: string;
  readonly clientV6: string;
  readonly serverV6: string;
  /** Runs argv inside a namespace, throws with its stderr when it fails; returns stdout. */
  run(ns: string, argv: readonly string[]): string;
  /** Starts argv inside a namespace (ip netns exec); the caller owns the process. */
  spawn(ns: string, argv: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Adds an address (CIDR) to the veth end in a namespace. */
  addAddress(ns: string, cidr: string): void;
  /** Deletes both namespaces (the veth pair goes with them). Idempotent. */
  destroy(): void;
}

let counter = 0;

/** A namespace name unique to this process: `${prefix}-${pid}-${n}`. */
export function uniqueNetnsName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

function ip(argv: readonly string[]): string {
  const r = spawnSync('ip', argv, { encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined) throw new Error(`ip ${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`ip ${argv.join(' ')} exited ${String(r.status)}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs argv inside namespace ns; throws with stderr on failure; returns stdout. */
export function runInNetns(ns: string, argv: readonly string[]): string {
  return ip(['netns', 'exec', ns, ...argv]);
}

/** Deletes a namespace if it exists. */
export function deleteNetns(ns: string): void {
  const r = spawnSync('ip', ['netns', 'del', ns], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 && !/No such file|not found|Invalid/i.test(r.stderr)) {
    throw new Error(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }
}

export function createNetnsPair(opts: NetnsPairOptions): NetnsPair {
  const v4 = opts.v4Net ?? '10.200.1';
  const v6 = opts.v6Net ?? 'fd00:5157:1';
  const client = uniqueNetnsName(`${opts.prefix}c`);
  const server = uniqueNetnsName(`${opts.prefix}s`);
  const ifname = 'veth0';
  const created: string[] = [];
  const destroy = (): void => {
    let first: unknown;
    for (const ns of created.splice(0).reverse()) {
      try {
        deleteNetns(ns);
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  };
  try {
    for (const ns of [client, server]) {
      ip(['netns', 'add', ns]);
      created.push(ns);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // Created inside the client namespace, peer moved straight into the
    // server one: no interface name ever exists in the host namespace.
    ip(['-n', client, 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', ifname, 'netns', server]);
    const addrs: [string, string, string][] = [
      [client, `${v4}.1/24`, `${v6}::1/64`],
      [server, `${v4}.2/24`, `${v6}::2/64`],
    ];
    for (const [ns, a4, a6] of addrs) {
      ip(['-n', ns, 'addr', 'add', a4, 'dev', ifname]);
      ip(['-n', ns, '-6', 'addr', 'add', a6, 'dev', ifname, 'nodad']);
      ip(['-n', ns, 'link', 'set', ifname, 'up']);
    }
    // Permanent neighbour entries: the first packets of a test must not wait
    // for (or be lost during) ARP / Neighbor Discovery (RFC 4861 7.2) while
    // the link is still coming up.
    const mac = (ns: string): string => {
      const m = /link\/ether ([0-9a-f:]{17})/.exec(ip(['-n', ns, 'link', 'show', ifname]));
      if (m?.[1] === undefined) throw new Error(`no MAC address on ${ns}/${ifname}`);
      return m[1];
    };
    const macs = { [client]: mac(client), [server]: mac(server) };
    for (const [ns, peer, suffix] of [
      [client, server, '2'],
      [server, client, '1'],
    ] as const) {
      for (const addr of [`${v4}.${suffix}`, `${v6}::${suffix}`]) {
        ip(['-n', ns, 'neigh', 'replace', addr, 'lladdr', macs[peer] as string, 'dev', ifname, 'nud', 'permanent']);
      }
    }
  } catch (err) {
    try {
      destroy();
    } catch {
      // The creation error is the one worth reporting.
    }
    throw err;
  }
  return {
    client,
    server,
    ifname,
    clientV4: `${v4}.1`,
    serverV4: `${v4}.2`,
    clientV6: `${v6}::1`,
    serverV6: `${v6}::2`,
    run: runInNetns,
    spawn: (ns, argv, spawnOpts) => spawn('ip', ['netns', 'exec', ns, ...argv], spawnOpts ?? {}),
    addAddress: (ns, cidr) => {
      const v6addr = cidr.includes(':');
      ip(['-n', ns, ...(v6addr ? ['-6'] : []), 'addr', 'add', cidr, 'dev', ifname, ...(v6addr ? ['nodad'] : [])]);
    },
    destroy,
  };
}

/**
 * Runs `node BIN args` in a network namespace of its own (unshare --net;
 * unprivileged, with a user namespace mapping root), bounded in time: for
 * tests that expect a command to refuse before doing anything, so that if
 * the refusal ever broke, `start` or `cleanup` could not touch this host's
 * rules or hang the suite.
 */
export function runCliIsolated(bin: string, args: readonly string[], timeoutMs = 20_000): ReturnType<typeof spawnSync> & { stdout: string; stderr: string } {
  const ns = process.getuid?.() === 0 ? ['--net'] : ['--net', '--map-root-user'];
  return spawnSync('unshare', [...ns, process.execPath, bin, ...args], { encoding: 'utf8', timeout: timeoutMs }) as ReturnType<typeof spawnSync> & {
    stdout: string;
    stderr: string;
  };
}
