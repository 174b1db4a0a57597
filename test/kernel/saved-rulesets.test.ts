// A ruleset saved while sipwall ran: why `start` warns about it (restored at
// boot, it takes the admin's filter rules down with it), and that the files
// holding sipwall's rules are told from the admin's own.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { installRules } from '../../src/kernel/install-rules.js';
import { savedRulesetsWithOurs } from '../../src/kernel/saved-rulesets.js';
import { createNs } from '../helpers/kernel-ns.js';

if (process.getuid?.() !== 0) {
  t.plan(0, 'needs root for network namespaces');
  process.exit(0);
}

t.test('a save taken under sipwall fails to restore at boot and loses the filter table; start can tell such files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-saved-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const host = createNs(t, 'sv');
  host.exec(['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']); // the admin's own
  const adminOnly = host.exec(['iptables-save']);
  await installRules({ queueNum: 230 }, host.runner);
  const underSipwall = host.exec(['iptables-save']);
  const v6 = host.exec(['ip6tables-save']);

  // A reboot: a fresh namespace, no ipsets yet, the saved file restored.
  const boot = createNs(t, 'sb');
  const r = (() => {
    try {
      boot.exec(['iptables-restore'], underSipwall);
      return 'restored';
    } catch (e) {
      return String((e as { stderr?: string }).stderr ?? e);
    }
  })();
  t.match(r, /sipwall-ban4 doesn't exist/, 'iptables-restore stops at the ban set');
  t.notMatch(boot.exec(['iptables-save']), /--dport 22 -j ACCEPT/, "and the admin's filter rule is not loaded");
  boot.exec(['iptables-restore'], adminOnly);
  t.match(boot.exec(['iptables-save']), /--dport 22 -j ACCEPT/, '(the admin-only save restores fine)');

  const files = { ours4: join(dir, 'rules.v4'), ours6: join(dir, 'rules.v6'), admin: join(dir, 'admin.v4'), missing: join(dir, 'nope') };
  writeFileSync(files.ours4, underSipwall);
  writeFileSync(files.ours6, v6);
  writeFileSync(files.admin, `${adminOnly}# a comment naming SIPWALL is not a rule\n-A INPUT -s 192.0.2.1 -j SIPWALL-ADMIN\n`);
  t.same(savedRulesetsWithOurs([files.ours4, files.ours6, files.admin, files.missing, dir]), [files.ours4, files.ours6], 'files with our chains found; the admin file, a missing file and a directory are not');
});
