// The queue socket's send buffer must hold one batch of verdicts
// (native/nfq-core.c fit_sndbuf): the kernel refuses a larger netlink
// message outright, and the batch's packets would get the fail mode's
// verdict instead of ours. Runs against the real kernel (root: SO_SNDBUFFORCE).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const cc = ['cc', 'gcc'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
const root = process.getuid?.() === 0;

t.test('a batch of 1024 verdicts is refused by a small send buffer, and fits once sized', { skip: cc === undefined ? 'no C compiler' : !root ? 'needs root' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-sndbuf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'harness');
  const src = join(process.cwd(), 'test', 'native', 'sndbuf-harness.c');
  const build = spawnSync(cc!, ['-O1', '-std=gnu11', '-Wall', '-Werror', '-Wno-unused-function', '-o', bin, src, '-lnetfilter_queue', '-lmnl'], { encoding: 'utf8' });
  t.equal(build.status, 0, `compiles: ${build.stderr}`);
  const r = spawnSync(bin, ['1024'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, r.stderr);
  t.same(r.stdout.trim().split('\n'), ['small buffer: Message too long', 'fit: ok', 'fitted buffer: sent']);
});
