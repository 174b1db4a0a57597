// The systemd unit shipped in contrib/: valid for systemd, and the least
// privilege and state directories sipwall relies on.

import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

const UNIT = join(process.cwd(), 'contrib', 'systemd', 'sipwall.service');

t.test('the systemd unit passes systemd-analyze verify', async (t) => {
  const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
  t.not(r.error?.message.includes('ENOENT'), true, 'systemd-analyze is installed (scripts/setup-debian.sh)');
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr.trim(), '', 'no warnings');
});

t.test('the unit restarts on failure, keeps state, and holds only the capabilities it needs', async (t) => {
  const text = readFileSync(UNIT, 'utf8');
  const keys = new Map(text.split('\n').filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  t.equal(keys.get('Restart'), 'on-failure');
  t.equal(keys.get('StateDirectory'), 'sipwall', '/var/lib/sipwall for the saved bans (stateFile default)');
  t.equal(keys.get('RuntimeDirectory'), 'sipwall', '/run/sipwall for the control socket (control.socket default)');
  t.equal(keys.get('CapabilityBoundingSet'), 'CAP_NET_ADMIN CAP_NET_RAW');
  t.equal(keys.get('NoNewPrivileges'), 'yes');
  t.match(keys.get('ExecStart'), /dist\/src\/cli\/main\.js start$/);
  t.match(keys.get('ExecStart'), /^\/usr\/bin\/env node --no-memory-reducer /, 'node starts without the memory reducer (src/cli/gc-tuning.ts)');
  t.match(keys.get('ExecReload'), /kill -HUP \$MAINPID/);
  t.equal(keys.get('KillMode'), 'mixed', 'systemctl stop signals sipwall, which ends its children in order');
  t.ok(Number(keys.get('TimeoutStopSec')) >= 45, 'time for two restores waiting on the xtables lock');
  t.equal(keys.get('ReadWritePaths'), '-/run/xtables.lock', 'the legacy backend can take its lock under ProtectSystem=strict');
  t.equal(keys.get('ExecStartPre'), '+/usr/bin/touch /run/xtables.lock');
  const defaults = readFileSync(join(process.cwd(), 'rules', 'default.yaml'), 'utf8');
  t.match(defaults, /stateFile: \/var\/lib\/sipwall\//, 'the default state file is inside StateDirectory');
  t.match(defaults, /socket: \/run\/sipwall\//, 'the default control socket is inside RuntimeDirectory');
});

t.test('the node the unit runs is on systemd\'s default PATH, and new enough', async (t) => {
  // ExecStart runs `env node`: the first node on the PATH systemd gives
  // services (systemd.exec(5)), which is where setup-debian.sh leaves one.
  const r = spawnSync('/usr/bin/env', ['node', '-p', 'process.versions.node'], {
    encoding: 'utf8',
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  t.equal(r.status, 0, r.stderr);
  t.ok(Number(r.stdout.split('.')[0]) >= 20, `node ${r.stdout.trim()} is 20 or later`);
});

t.test('the sipwall command runs as built: executable, node found by its shebang', async (t) => {
  const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  t.ok((statSync(main).mode & 0o111) !== 0, 'the build makes it executable (package.json build)');
  const r = spawnSync(main, ['--help'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /Usage: sipwall COMMAND/);
  t.match(readFileSync(join(process.cwd(), 'scripts', 'setup-debian.sh'), 'utf8'), /ln -sfn "\$PWD\/dist\/src\/cli\/main\.js" \/usr\/local\/bin\/sipwall/, 'setup puts it on PATH as sipwall');
});
