// checkRules on a real kernel, inside namespaces this file creates: what
// installRules installs reads back as intact, for every shape of options;
// what other tools do to it (flush a table, delete a jump, destroy a set)
// is named; installing again makes it intact.

import t from 'tap';
import { installRules } from '../../src/kernel/install-rules.js';
import { validateKernelOptions, type KernelOptionsInput } from '../../src/kernel/kernel-options.js';
import type { Family } from '../../src/kernel/render-rules.js';
import { checkRules } from '../../src/kernel/rules-check.js';
import { createNs } from '../helpers/kernel-ns.js';

if (process.getuid?.() !== 0) {
  t.plan(0, 'needs root for network namespaces');
  process.exit(0);
}

const NONE = new Set<Family>();

t.test('what install puts in reads back intact, whatever the options', async (t) => {
  const shapes: KernelOptionsInput[] = [
    {},
    { tlsPorts: [5061, 5070], ports: '5060-5090' },
    { tlsPorts: [], ports: 5060, failOpen: false },
    { answerPrefilter: false },
    { watchAnswers: false, trustSkipQueue: false },
    { banScope: 'all', ipv6: false, trustMark: 0xffff0000, watchMark: 0xffff },
  ];
  for (const shape of shapes) {
    const ns = createNs(t, 'rc');
    const opts = validateKernelOptions({ queueNum: 220, ...shape });
    const report = await installRules(opts, ns.runner);
    const fallback = new Set(report.prefilterFallback.map((f) => f.family));
    t.same(await checkRules(opts, fallback, ns.runner), [], `intact: ${JSON.stringify(shape)}`);
  }
});

t.test('what other tools do is named, and a second install repairs it', async (t) => {
  const ns = createNs(t, 'rd');
  const opts = validateKernelOptions({ queueNum: 221 });
  await installRules(opts, ns.runner);
  const check = (): Promise<string[]> => checkRules(opts, NONE, ns.runner);

  ns.exec(['iptables', '-t', 'mangle', '-F']);
  const flushed = await check();
  t.match(flushed, [/IPv4 mangle SIPWALL: 0 rule/, /IPv4 mangle SIPWALL-OUT: 0 rule/, /IPv4 mangle INPUT: the jump to SIPWALL is missing/, /IPv4 mangle OUTPUT: the jump to SIPWALL-OUT is missing/], 'iptables -t mangle -F: both chains emptied and both jumps gone');
  t.equal(flushed.length, 4, `and nothing else (${flushed.join('; ')})`);
  await installRules(opts, ns.runner);
  t.same(await check(), [], 'reinstalled: intact');

  ns.exec(['ip6tables', '-t', 'raw', '-D', 'PREROUTING', '-j', 'SIPWALL-BAN']);
  t.same(await check(), ['IPv6 raw PREROUTING: the jump to SIPWALL-BAN is missing']);
  ns.exec(['iptables', '-t', 'security', '-A', 'SIPWALL-MARK', '-j', 'ACCEPT']);
  t.same(await check(), ['IPv4 security SIPWALL-MARK: 3 rule(s) where 2 were installed, or changed', 'IPv6 raw PREROUTING: the jump to SIPWALL-BAN is missing'], 'a rule added to our chain counts too');
  await installRules(opts, ns.runner);
  t.same(await check(), []);

  // A reset script: every table flushed, user chains deleted, sets destroyed.
  for (const cmd of ['iptables', 'ip6tables']) for (const table of ['raw', 'mangle', 'security']) ns.exec([cmd, '-t', table, '-F']), ns.exec([cmd, '-t', table, '-X']);
  await ns.destroySets();
  const gone = await check();
  t.ok(gone.includes('IPv4 raw SIPWALL-BAN: chain missing') && gone.includes('IPv6 security SIPWALL-MARK: chain missing'), 'deleted chains named');
  t.ok(gone.includes('ipset sipwall-ban4: missing') && gone.includes('ipset sipwall-ban6: missing'), 'destroyed sets named');
  const again = await installRules(opts, ns.runner);
  t.same(again.setsCreated.sort(), ['sipwall-ban4', 'sipwall-ban6'], 'install recreates the sets (the caller refills them)');
  t.same(await check(), []);
});
