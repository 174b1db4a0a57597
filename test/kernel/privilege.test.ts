// checkPrivilege and the missing-binary errors, with real privilege drops
// (setpriv) and a real missing /usr/sbin (a private mount namespace).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PermissionError } from '../../src/errors.js';
import { checkPrivilege, hasNetAdmin } from '../../src/kernel/privilege.js';

const kernelDir = fileURLToPath(new URL('../../src/kernel/', import.meta.url));
const root = process.getuid?.() === 0;

/** Run an ESM snippet in a child node, optionally under a wrapper; returns its stdout lines. */
function runChild(wrapper: string[], code: string): { out: string; status: number | null; err: string } {
  const argv = [...wrapper, process.execPath, '--input-type=module', '-e', code];
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
  return { out: r.stdout.trim(), status: r.status, err: r.stderr };
}

const CHECK = `
import { checkPrivilege } from ${JSON.stringify(kernelDir + 'privilege.js')};
try { checkPrivilege(); console.log('ok'); } catch (e) { console.log(e.name + ' ' + e.code); }
`;

t.test('CapEff parsing', async (t) => {
  t.equal(hasNetAdmin('Name:\tx\nCapEff:\t000001ffffffffff\n'), true);
  t.equal(hasNetAdmin('CapEff:\t0000000000001000\n'), true, 'bit 12 alone');
  t.equal(hasNetAdmin('CapEff:\t0000000000002000\n'), false, 'CAP_NET_RAW is not enough');
  t.equal(hasNetAdmin('CapEff:\t0000000000000000\n'), false);
  t.equal(hasNetAdmin('CapPrm:\t000001ffffffffff\n'), false, 'only the effective set counts');
  t.equal(hasNetAdmin(''), false);
});

t.test('passes as root', { skip: !root && 'needs root' }, async (t) => {
  t.doesNotThrow(() => checkPrivilege());
  t.equal(runChild([], CHECK).out, 'ok');
});

t.test('fails as an unprivileged user', { skip: !root && 'needs root to drop privileges' }, async (t) => {
  const r = runChild(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'], CHECK);
  t.equal(r.out, 'PermissionError SIPWALL_ERR_PERMISSION', r.err);
});

t.test('fails as root without CAP_NET_ADMIN', { skip: !root && 'needs root' }, async (t) => {
  const r = runChild(['setpriv', '--inh-caps=-all', '--bounding-set=-net_admin'], CHECK);
  t.equal(r.out, 'PermissionError SIPWALL_ERR_PERMISSION', r.err);
});

t.test('the error type is the shared one', async (t) => {
  t.equal(new PermissionError('x').code, 'SIPWALL_ERR_PERMISSION');
});

t.test('missing binaries: KernelError naming the Debian package, before any change', { skip: !root && 'needs root for a mount namespace' }, async (t) => {
  // A private mount namespace where /usr/sbin (iptables, ipset) is an empty
  // tmpfs, the host's /usr/sbin unaffected; and a new network namespace, so
  // that even if the binaries were found elsewhere the host's rules are safe.
  const code = `
import { installRules } from ${JSON.stringify(kernelDir + 'install-rules.js')};
import { BanSet } from ${JSON.stringify(kernelDir + 'ban-set.js')};
const show = (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message }));
await installRules({}).then(() => console.log('installed?!'), show);
try { new BanSet(); console.log('started?!'); } catch (e) { show(e); }
`;
  const r = runChild(['unshare', '--mount', '--net', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /usr/sbin && exec "$@"', 'sh'], code);
  const lines = r.out.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 2, r.err + r.out);
  const [inst, ban] = lines.map((l) => JSON.parse(l) as { name: string; code: string; message: string });
  t.match(inst, { name: 'KernelError', code: 'SIPWALL_ERR_KERNEL', message: /iptables-save.*package "iptables"/ });
  t.match(ban, { name: 'KernelError', code: 'SIPWALL_ERR_KERNEL', message: /ipset.*package "ipset"/ });
});
