// The control socket's server on its own: what a client can and cannot do to
// the process that serves it (no namespace needed: a socket in a temp dir).

import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ControlError } from '../../src/errors.js';
import type { Teardown } from '../helpers/kernel-ns.js';
import { controlRequest, startControlServer, stopControlServer, type ControlHandler } from '../../src/cli/control-server.js';

const ROOT = process.getuid?.() === 0;
const status: ControlHandler = () => ({ ok: true, up: 1 });

function dir(t: Teardown): string {
  const d = mkdtempSync(join(tmpdir(), 'sipwall-ctl-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('stop drops a client that trickles a request instead of waiting for it', async (t) => {
  const path = join(dir(t), 'c.sock');
  const server = await startControlServer(path, '', status);
  t.equal(statSync(path).mode & 0o777, 0o600, 'root-only socket');
  const reply = await controlRequest(path, { cmd: 'status' });
  t.equal(reply.ok, true, 'a normal request is answered');
  // One byte a second, never a newline: the slow client of a local user.
  const slow: Socket = connect(path);
  await new Promise((r) => slow.once('connect', r));
  const drip = setInterval(() => slow.write('{'), 1000);
  t.teardown(() => clearInterval(drip));
  slow.on('error', () => {});
  const closed = new Promise((r) => slow.once('close', r));
  await new Promise((r) => setTimeout(r, 1500));
  t.teardown(() => slow.destroy());
  const t0 = Date.now();
  const stopped = await Promise.race([
    stopControlServer(server, path).then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
  ]);
  t.ok(stopped, `stopControlServer resolved (in ${Date.now() - t0} ms) with a client still connected`);
  t.ok(await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))]), 'the slow client was disconnected');
});

t.test('a failed listen leaves the process umask as it was', async (t) => {
  const d = dir(t);
  const before = process.umask();
  // A path in a directory that does not exist and cannot be made (a file is in the way).
  const path = join(d, 'c.sock', 'x', 'y.sock');
  spawnSync('touch', [join(d, 'c.sock')]);
  await t.rejects(startControlServer(path, '', status));
  t.equal(process.umask(), before, `umask still ${before.toString(8)}`);
  // A listen error proper: the path is too long for a unix socket (108 bytes).
  const long = join(d, 'x'.repeat(120) + '.sock');
  await t.rejects(startControlServer(long, '', status), ControlError);
  t.equal(process.umask(), before, 'and after a listen error');
});

t.test('a socket group sipwall cannot chown to: a ControlError, and nothing left listening', { skip: ROOT ? false : 'needs root (setpriv)' }, async (t) => {
  const d = dir(t);
  const path = join(d, 'g.sock');
  const mod = join(process.cwd(), 'dist', 'src', 'cli', 'control-server.js');
  const script = `
    import { startControlServer } from ${JSON.stringify(mod)};
    import { existsSync } from 'node:fs';
    try { await startControlServer(${JSON.stringify(path)}, 'nogroup', () => ({ ok: true })); console.log('started'); }
    catch (e) { console.log(e.code, e.message); console.log('socket file left:', existsSync(${JSON.stringify(path)})); }`;
  // Root without CAP_CHOWN (as under sipwall.service) and not in the group.
  const r = spawnSync('setpriv', ['--bounding-set', '-chown', '--inh-caps', '-chown', '--', process.execPath, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  t.equal(r.status, 0, `the process exits by itself (no server left open): ${r.stderr}`);
  t.match(r.stdout, /SIPWALL_ERR_CONTROL .*group "nogroup".*SupplementaryGroups=nogroup/);
  t.match(r.stdout, /socket file left: false/);
});

t.test('a file at the control path that is not a socket is refused and left alone; a stale socket is replaced', async (t) => {
  const d = dir(t);
  const path = join(d, 'sipwall.yaml'); // control.socket mistyped as the config file
  writeFileSync(path, 'secretHosts: [a.example.com]\n');
  await t.rejects(startControlServer(path, '', status), { name: 'ControlError', message: /exists and is not a socket/ });
  t.equal(readFileSync(path, 'utf8'), 'secretHosts: [a.example.com]\n', 'the file is untouched');
  // A socket left by a process killed with SIGKILL.
  const stale = join(d, 'c.sock');
  const child = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  t.equal(child.signal, 'SIGKILL');
  t.ok(lstatSync(stale).isSocket(), 'a stale socket is there');
  const server = await startControlServer(stale, '', status);
  t.equal((await controlRequest(stale, { cmd: 'status' })).ok, true, 'replaced and answering');
  await stopControlServer(server, stale);
});
