// installRules/removeRules on a real kernel, inside namespaces this file creates.
import t from 'tap';
import { KernelError } from '../../src/errors.js';
import { findInstalled } from '../../src/kernel/installed-rules.js';
import { installRules, removeRules } from '../../src/kernel/install-rules.js';
import { renderRules } from '../../src/kernel/render-rules.js';
import { createNs, type Ns } from '../helpers/kernel-ns.js';

if (process.getuid?.() !== 0) {
  t.plan(0, 'needs root for network namespaces');
  process.exit(0);
}

const OPTS = { queueNum: 210 };

const count = (text: string, line: string): number => text.split('\n').filter((l) => l === line).length;

/** The rule lines of the mangle and raw sections of a save, in order. */
function tableRules(save: string, table: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const l of save.split('\n')) {
    if (l.startsWith('*')) cur = l.slice(1);
    else if (cur === table && l.startsWith('-A ')) out.push(l);
  }
  return out;
}

/**
 * The admin's own rules, in the very tables and hooks sipwall uses, plus one
 * in filter and an ipset of their own.
 */
function addAdminRules(ns: Ns): void {
  for (const [cmd, src] of [['iptables', '192.0.2.7'], ['ip6tables', '2001:db8::7']] as const) {
    ns.exec([cmd, '-t', 'mangle', '-A', 'INPUT', '-s', src, '-j', 'MARK', '--set-mark', '7']);
    ns.exec([cmd, '-t', 'raw', '-A', 'PREROUTING', '-s', src, '-j', 'NOTRACK']);
    ns.exec([cmd, '-t', 'filter', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
  }
  ns.exec(['ipset', 'create', 'admin-set', 'hash:ip']);
  ns.exec(['iptables', '-t', 'filter', '-A', 'INPUT', '-m', 'set', '--match-set', 'admin-set', 'src', '-j', 'DROP']);
}

/**
 * A table holding only built-in chains with policy ACCEPT and no rules has no
 * effect on any packet; iptables-nft creates one the first time a rule goes
 * into a table and never deletes it. Such tables are left out of snapshots.
 */
function withoutEmptyTables(save: string): string {
  const out: string[] = [];
  let block: string[] = [];
  for (const l of save.split('\n')) {
    block.push(l);
    if (l !== 'COMMIT') continue;
    if (!block.every((b) => /^(\*\w+|COMMIT|:[A-Z]+ ACCEPT \[0:0\])$/.test(b))) out.push(...block);
    block = [];
  }
  return [...out, ...block].join('\n');
}

function snapshot(ns: Ns): { v4: string; v6: string; sets: string[] } {
  return { v4: withoutEmptyTables(ns.save(4)), v6: withoutEmptyTables(ns.save(6)), sets: ns.ipsetNames() };
}

t.test('install twice: one copy of everything', async (t) => {
  const ns = createNs(t, 'twice');
  const first = await installRules(OPTS, ns.runner);
  t.same(first, { replacedLeftovers: false, setsCreated: ['sipwall-ban4', 'sipwall-ban6'], setsKept: [], setsRebuilt: [], prefilterFallback: [] });
  const once = snapshot(ns);
  const second = await installRules(OPTS, ns.runner);
  t.equal(second.replacedLeftovers, true);
  t.same(second.setsKept, ['sipwall-ban4', 'sipwall-ban6']);
  const twice = snapshot(ns);
  t.same(twice, once, 'second install changed nothing');
  for (const fam of [4, 6] as const) {
    const s = fam === 4 ? twice.v4 : twice.v6;
    t.equal(count(s, '-A INPUT -m connmark ! --mark 0x5157/0x5157 -j SIPWALL'), 1, `v${fam}: one queue jump`);
    t.equal(count(s, '-A PREROUTING -j SIPWALL-BAN'), 1, `v${fam}: one ban jump`);
    t.equal(tableRules(s, 'mangle').filter((l) => l.startsWith('-A SIPWALL ')).length, 3, `v${fam}: udp + tcp, and TCP to the TLS port returning`);
    t.equal(tableRules(s, 'raw').filter((l) => l.startsWith('-A SIPWALL-BAN ')).length, 2, `v${fam}: udp + tcp bans`);
    t.equal(count(s, ':SIPWALL - [0:0]'), 1);
  }
  t.ok(twice.v4.includes('-A SIPWALL -p udp -m udp --dport 5060:5082 -j NFQUEUE --queue-num 210 --queue-bypass'));
  t.ok(twice.v6.includes('-A SIPWALL-BAN -p udp -m udp --dport 5060:5082 -m set --match-set sipwall-ban6 src -j DROP'));
  t.same(twice.sets, ['sipwall-ban4', 'sipwall-ban6']);

  const state = await findInstalled(ns.runner);
  t.equal(state.present, true);
  t.same(state.v4.queueJumps, ['-m connmark ! --mark 0x5157/0x5157 -j SIPWALL']);
  t.same(state.v6?.banJumps, ['-j SIPWALL-BAN']);
  t.same(state.v4.markJumps, ['-m mark ! --mark 0x0/0x205157 -j SIPWALL-MARK']);
  t.same(state.v4.foreignRefs, []);
  t.same(state.v4.setsReferenced, ['sipwall-ban4']);
  t.match(state.sets, [
    { name: 'sipwall-ban4', type: 'hash:net', family: 'inet', maxElem: 131072, timeout: true },
    { name: 'sipwall-ban6', type: 'hash:net', family: 'inet6', maxElem: 131072, timeout: true },
  ]);
});

t.test('leftovers of a crash are replaced by one clean set', async (t) => {
  const ref = createNs(t, 'ref');
  await installRules(OPTS, ref.runner);
  const clean = snapshot(ref);

  // Chains present with stale rules, jumps missing (crash between the two).
  const a = createNs(t, 'crasha');
  a.exec(['ipset', 'create', 'sipwall-ban4', 'hash:net', 'family', 'inet', 'maxelem', '131072', 'timeout', '0']);
  a.exec(['iptables-restore', '--noflush'], [
    '*raw', ':SIPWALL-BAN - [0:0]', '-A SIPWALL-BAN -m set --match-set sipwall-ban4 src -j DROP', 'COMMIT',
    '*mangle', ':SIPWALL - [0:0]', '-A SIPWALL -p udp -j NFQUEUE --queue-num 9', '-A SIPWALL -j ACCEPT', 'COMMIT', '',
  ].join('\n'));
  a.exec(['ip6tables-restore', '--noflush'], ['*mangle', ':SIPWALL - [0:0]', '-A SIPWALL -j NFQUEUE --queue-num 9', 'COMMIT', ''].join('\n'));
  const ra = await installRules(OPTS, a.runner);
  t.equal(ra.replacedLeftovers, true);
  t.same(snapshot(a), clean, 'chains present, jumps missing -> same as a fresh install');

  // Chains and jumps present, jumps duplicated (an older crash on top of a run).
  const b = createNs(t, 'crashb');
  await installRules(OPTS, b.runner);
  for (const cmd of ['iptables', 'ip6tables']) {
    b.exec([cmd, '-t', 'mangle', '-I', 'INPUT', '1', '-j', 'SIPWALL']);
    b.exec([cmd, '-t', 'raw', '-A', 'PREROUTING', '-j', 'SIPWALL-BAN']);
    b.exec([cmd, '-t', 'raw', '-A', 'PREROUTING', '-j', 'SIPWALL-BAN']);
    b.exec([cmd, '-t', 'mangle', '-A', 'SIPWALL', '-j', 'DROP']);
  }
  t.equal(count(b.save(4), '-A PREROUTING -j SIPWALL-BAN'), 3, 'setup: duplicated jumps');
  await installRules(OPTS, b.runner);
  t.same(snapshot(b), clean, 'duplicates and stale rules -> same as a fresh install');
});

t.test('a failure part-way rolls back on a clean host, and keeps what an earlier run left', async (t) => {
  /** ns's runner, with every ip6tables-restore failing (the xtables lock held too long, say). */
  const failing = (ns: Ns): Ns['runner'] => {
    const r = Object.create(ns.runner) as Ns['runner'];
    r.run = async (command, opts) => {
      if (command[0] === 'ip6tables-restore') return { code: 4, stdout: '', stderr: 'injected failure' };
      return ns.runner.run(command, opts);
    };
    r.check = async (command, opts) => {
      if (command[0] === 'ip6tables-restore') throw new KernelError('ip6tables-restore: injected failure');
      return ns.runner.check(command, opts);
    };
    return r;
  };
  const clean = createNs(t, 'failc');
  const before = snapshot(clean);
  await t.rejects(installRules({ ...OPTS, failOpen: false }, failing(clean)), { message: /injected failure$/ }, 'the error, and nothing about leftovers');
  t.same(snapshot(clean), before, 'clean host: as found');

  // A fail-closed run that died: its rules hold SIP back until sipwall returns.
  const crashed = createNs(t, 'failk');
  await installRules({ ...OPTS, failOpen: false }, crashed.runner);
  const left = snapshot(crashed);
  await t.rejects(installRules({ ...OPTS, failOpen: false }, failing(crashed)), { message: /previous run were left in place, in fail-closed mode/ });
  t.same(snapshot(crashed), left, 'the leftovers stay: SIP stays held back, bans stay enforced');

  // A firewall reset removed the rules but left the ban sets, with their bans
  // (what sipwall's rules watchdog then reinstalls): a failure keeps them.
  const reset = createNs(t, 'failr');
  await installRules(OPTS, reset.runner);
  reset.exec(['ipset', 'add', 'sipwall-ban4', '192.0.2.99', 'timeout', '600']);
  for (const cmd of ['iptables', 'ip6tables']) for (const table of ['raw', 'mangle', 'security']) reset.exec([cmd, '-t', table, '-F']), reset.exec([cmd, '-t', table, '-X']);
  await t.rejects(installRules(OPTS, failing(reset)), { message: /injected failure$/ });
  t.notMatch(reset.save(4), /SIPWALL/, 'what this run installed is rolled back');
  t.match(reset.exec(['ipset', 'list', 'sipwall-ban4']), /192\.0\.2\.99 timeout/, 'but the ban set that was there stays, with its ban');
  t.same(reset.ipsetNames(), ['sipwall-ban4', 'sipwall-ban6']);
});

t.test('remove restores exactly the ruleset before install; admin rules untouched', async (t) => {
  const ns = createNs(t, 'remove');
  addAdminRules(ns);
  const before = snapshot(ns);
  t.ok(before.v4.includes('-A INPUT -s 192.0.2.7/32 -j MARK --set-xmark 0x7/0xffffffff'), 'setup: admin mangle rule');

  await installRules(OPTS, ns.runner);
  const during = snapshot(ns);
  for (const [fam, s, src] of [[4, during.v4, '192.0.2.7/32'], [6, during.v6, '2001:db8::7/128']] as const) {
    t.same(tableRules(s, 'mangle').filter((l) => l.startsWith('-A INPUT ')), [
      '-A INPUT -m connmark ! --mark 0x5157/0x5157 -j SIPWALL',
      `-A INPUT -s ${src} -j MARK --set-xmark 0x7/0xffffffff`,
    ], `v${fam}: our jump first, the admin's rule kept after it`);
    t.same(tableRules(s, 'raw').filter((l) => l.startsWith('-A PREROUTING ')), [
      '-A PREROUTING -j SIPWALL-BAN',
      `-A PREROUTING -s ${src} -j NOTRACK`,
    ], `v${fam}: ban jump first, the admin's NOTRACK kept`);
    t.same(tableRules(s, 'filter'), tableRules(fam === 4 ? before.v4 : before.v6, 'filter'), `v${fam}: filter table untouched`);
  }

  const rep = await removeRules(OPTS, ns.runner);
  t.same(rep, {
    changed: true,
    removedChains: [
      'raw SIPWALL-BAN', 'mangle SIPWALL', 'security SIPWALL-MARK', 'mangle SIPWALL-OUT',
      'ip6 raw SIPWALL-BAN', 'ip6 mangle SIPWALL', 'ip6 security SIPWALL-MARK', 'ip6 mangle SIPWALL-OUT',
    ],
    removedJumps: 10,
    destroyedSets: ['sipwall-ban4', 'sipwall-ban6'],
    keptSets: [],
  });
  t.same(snapshot(ns), before, 'iptables-save, ip6tables-save and ipset list -n as before install');

  const again = await removeRules(OPTS, ns.runner);
  t.equal(again.changed, false, 'second remove is a no-op');
  t.same(snapshot(ns), before);
});

t.test('remove when nothing is installed changes nothing', async (t) => {
  const ns = createNs(t, 'noop');
  const before = snapshot(ns);
  const rep = await removeRules({}, ns.runner);
  t.same(rep, { changed: false, removedChains: [], removedJumps: 0, destroyedSets: [], keptSets: [] });
  t.same(snapshot(ns), before);
  t.equal((await findInstalled(ns.runner)).present, false);
});

t.test('fresh namespace: install + remove leaves at most empty built-in tables', async (t) => {
  // iptables-nft creates a table's base chains the first time a rule goes
  // into that table and never deletes them; a table holding only built-in
  // chains with policy ACCEPT and no rules has no effect on any packet.
  const ns = createNs(t, 'fresh');
  const before = snapshot(ns);
  await installRules(OPTS, ns.runner);
  await removeRules(OPTS, ns.runner);
  const after = snapshot(ns);
  t.same(after.sets, before.sets);
  for (const s of [after.v4, after.v6]) {
    const meaningful = s.split('\n').filter((l) => l !== '' && !/^(\*\w+|COMMIT|:[A-Z]+ ACCEPT \[0:0\])$/.test(l));
    t.same(meaningful, [], 'no rules, no user chains, no non-ACCEPT policy left');
  }
});

t.test('ipv6 false: v6 rules and set from an earlier run are removed', async (t) => {
  const ns = createNs(t, 'nov6');
  await installRules(OPTS, ns.runner);
  await installRules({ ...OPTS, ipv6: false }, ns.runner);
  const s = snapshot(ns);
  t.notMatch(s.v6, /SIPWALL/);
  t.match(s.v4, /-A INPUT -m connmark ! --mark 0x5157\/0x5157 -j SIPWALL/);
  t.same(s.sets, ['sipwall-ban4']);
});

t.test('a changed setMaxElem rebuilds the set under the rules and keeps its bans', async (t) => {
  const ns = createNs(t, 'maxelem');
  await installRules(OPTS, ns.runner);
  ns.exec(['ipset', 'add', 'sipwall-ban4', '198.51.100.9', 'timeout', '500']);
  ns.exec(['ipset', 'add', 'sipwall-ban6', '2001:db8:9::/64', 'timeout', '500']);
  const rep = await installRules({ ...OPTS, setMaxElem: 1000 }, ns.runner);
  t.same(rep.setsRebuilt, ['sipwall-ban4', 'sipwall-ban6']);
  const state = await findInstalled(ns.runner);
  t.match(state.sets, [{ name: 'sipwall-ban4', maxElem: 1000, references: 2, entries: 1 }, { name: 'sipwall-ban6', maxElem: 1000, entries: 1 }]);
  t.match(ns.exec(['ipset', 'list', 'sipwall-ban4', '-output', 'save']), /^add sipwall-ban4 198\.51\.100\.9 timeout 4\d\d$/m);
  t.same(ns.ipsetNames(), ['sipwall-ban4', 'sipwall-ban6'], 'no temporary set left');
});

t.test('a set of another kind under our name is refused and left alone', async (t) => {
  const ns = createNs(t, 'foreignset');
  ns.exec(['ipset', 'create', 'sipwall-ban4', 'hash:ip']);
  ns.exec(['ipset', 'add', 'sipwall-ban4', '192.0.2.1']);
  const before = snapshot(ns);
  await t.rejects(installRules(OPTS, ns.runner), { code: 'SIPWALL_ERR_KERNEL', message: /not a sipwall ban set/ });
  t.same(snapshot(ns), before, 'nothing installed, the set untouched');
  t.match(ns.exec(['ipset', 'list', 'sipwall-ban4']), /192\.0\.2\.1/);
});

t.test('remove refuses while another rule jumps into our chain, and keeps a set the admin uses', async (t) => {
  const ns = createNs(t, 'foreignref');
  await installRules(OPTS, ns.runner);
  ns.exec(['iptables', '-t', 'raw', '-A', 'PREROUTING', '-s', '192.0.2.99', '-j', 'SIPWALL-BAN']);
  const before = snapshot(ns);
  const err = await removeRules(OPTS, ns.runner).then(() => null, (e: unknown) => e);
  t.ok(err instanceof KernelError, 'KernelError');
  t.match(err, { code: 'SIPWALL_ERR_KERNEL', message: /-A PREROUTING -s 192\.0\.2\.99\/32 -j SIPWALL-BAN/ });
  t.same(snapshot(ns), before, 'nothing changed');

  ns.exec(['iptables', '-t', 'raw', '-D', 'PREROUTING', '-s', '192.0.2.99', '-j', 'SIPWALL-BAN']);
  ns.exec(['iptables', '-t', 'filter', '-A', 'INPUT', '-m', 'set', '--match-set', 'sipwall-ban4', 'src', '-j', 'LOG']);
  const rep = await removeRules(OPTS, ns.runner);
  t.same(rep.destroyedSets, ['sipwall-ban6']);
  t.same(rep.keptSets, ['sipwall-ban4'], 'still referenced by the admin\'s LOG rule');
  t.notMatch(ns.save(4), /SIPWALL/);
  t.match(ns.save(4), /-A INPUT -m set --match-set sipwall-ban4 src -j LOG/);
});

t.test('rendered scripts are what gets installed', async (t) => {
  const ns = createNs(t, 'render');
  const opts = { ...OPTS, banScope: 'all' as const, failOpen: false, ports: '5070-5072' };
  await installRules(opts, ns.runner);
  const r = renderRules(opts);
  const s = snapshot(ns);
  for (const [script, save] of [[r.v4, s.v4], [r.v6, s.v6]] as const) {
    for (const l of script.split('\n').filter((x) => x.startsWith('-A '))) t.ok(save.includes(l), `installed: ${l}`);
    // Jumps are inserted ("-I HOOK 1 spec") and read back as "-A HOOK spec": the exact text, or a restart would not recognise them.
    for (const l of script.split('\n').filter((x) => x.startsWith('-I '))) {
      const [, hook, , ...spec] = l.split(' ');
      t.ok(save.includes(`-A ${hook} ${spec.join(' ')}`), `installed: ${l}`);
    }
  }
});

t.test('jumps of a run with other marks or options are replaced, not kept beside ours', async (t) => {
  const ref = createNs(t, 'marksref');
  await installRules(OPTS, ref.runner);
  const clean = snapshot(ref);
  const ns = createNs(t, 'marks');
  await installRules({ ...OPTS, trustMark: 0x10, watchMark: 0x20 }, ns.runner);
  t.match(ns.save(4), /-A INPUT -m connmark ! --mark 0x10\/0x10 -j SIPWALL/, 'setup: the old marks');
  await installRules({ ...OPTS, trustSkipQueue: false }, ns.runner);
  t.match(ns.save(4), /-A INPUT -j SIPWALL\n/, 'setup: an unguarded jump');
  await installRules(OPTS, ns.runner);
  t.same(snapshot(ns), clean, 'same as a fresh install: one jump per hook, the wanted marks');
  // A rule of the admin's that jumps to our chain with other matches is not ours.
  ns.exec(['iptables', '-t', 'mangle', '-A', 'INPUT', '-s', '192.0.2.5', '-m', 'connmark', '!', '--mark', '0x1/0x1', '-j', 'SIPWALL']);
  const state = await findInstalled(ns.runner);
  t.same(state.v4.foreignRefs, ['mangle: -A INPUT -s 192.0.2.5/32 -m connmark ! --mark 0x1/0x1 -j SIPWALL']);
  t.equal(state.v4.queueJumps.length, 1);
});
