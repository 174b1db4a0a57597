// native/hot-table.c with injected time (the C takes `now` as an argument),
// compiled here from the same source the addon builds. A table full of bans
// that expire one at a time must not be rebuilt on every insert.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const cc = ['cc', 'gcc'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

t.test('a full table with trickling expiries is swept at most once a second', { skip: cc === undefined ? 'no C compiler' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-hot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'harness');
  const build = spawnSync(cc!, ['-O2', '-std=gnu11', '-Wall', '-Werror', '-o', bin, join(process.cwd(), 'test', 'native', 'hot-table-harness.c')], { encoding: 'utf8' });
  t.equal(build.status, 0, `compiles: ${build.stderr}`);
  const run = spawnSync(bin, ['trickle', '1024', '3'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(run.status, 0, run.stderr);
  const m = /^sweeps (\d+) stored (\d+) refused (\d+)$/.exec(run.stdout.trim());
  t.ok(m, run.stdout);
  const [sweeps, stored, refused] = [Number(m![1]), Number(m![2]), Number(m![3])];
  // 3000 inserts over 3 simulated seconds, one expiry per millisecond.
  t.ok(sweeps >= 1 && sweeps <= 4, `one sweep a second at most, not one per insert (${sweeps})`);
  t.equal(stored + refused, 3000);
  t.ok(stored >= sweeps, `each sweep made room for what had expired (${stored} stored)`);
  t.ok(refused > 0, 'between sweeps a full table refuses (the engine decides those sources)');
});
