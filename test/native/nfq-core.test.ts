// native/nfq-core.c against a model of the kernel's queue (the harness
// replaces mnl_socket_sendto): packets left without a verdict, by a failed
// send or an unreadable id, must get the fail mode's verdict, not the one a
// later batch's range verdict meant for other packets.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';

const cc = ['cc', 'gcc'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

/** Compiles test/native/nfq-core-harness.c (with nfq-core.c inside) into a directory the test removes; its path. */
function harness(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-nfq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'harness');
  const src = join(process.cwd(), 'test', 'native', 'nfq-core-harness.c');
  const build = spawnSync(cc!, ['-O1', '-std=gnu11', '-Wall', '-Werror', '-o', bin, src, '-lnetfilter_queue', '-lmnl'], { encoding: 'utf8' });
  t.equal(build.status, 0, `compiles: ${build.stderr}`);
  return bin;
}

t.test('packets a failed send or an unreadable id left queued get the fail mode, not a later range', { skip: cc === undefined ? 'no C compiler' : false }, async (t) => {
  const bin = harness(t);
  const run = (...args: string[]): string[] => {
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim().split('\n');
  };
  // Ids 1-3 accepted but the send failed; then 4-6 dropped with one range verdict.
  t.same(run('send-failure', 'open'), ['id 1: accept', 'id 2: accept', 'id 3: accept', 'id 4: drop', 'id 5: drop', 'id 6: drop'], 'fail-open: the unsent ones accepted, not dropped by the range');
  t.same(run('send-failure', 'closed'), ['id 1: drop', 'id 2: drop', 'id 3: drop', 'id 4: drop', 'id 5: drop', 'id 6: drop'], 'fail-closed: dropped');
  // Id 1's message lacks its id; 2 accepted; then 3-4 dropped with a range.
  t.same(run('unknown-id', 'open'), ['id 1: accept', 'id 2: accept', 'id 3: drop', 'id 4: drop'], 'fail-open: the unreadable one accepted, not dropped by the next range');
  t.same(run('unknown-id', 'closed'), ['id 1: drop', 'id 2: accept', 'id 3: drop', 'id 4: drop']);
});

t.test('a stop under load: in fail-open mode every queued packet is accepted, not only what the drain reads', { skip: cc === undefined ? 'no C compiler' : false }, async (t) => {
  const bin = harness(t);
  // 300 waiting, a batch of 8: the drain reads 16 batches (128), the rest by one range verdict.
  t.equal(spawnSync(bin, ['close', 'open'], { encoding: 'utf8' }).stdout.trim(), 'accepted 300 queued 0', 'fail-open: all accepted');
  // Fail-closed: none accepted unjudged; what the drain read is dropped, the rest left to the kernel's flush, which drops it too.
  t.equal(spawnSync(bin, ['close', 'closed'], { encoding: 'utf8' }).stdout.trim(), 'accepted 0 queued 172');
});

t.test('a stop: what the PBX sends is accepted in either fail mode, what it receives follows the mode', { skip: cc === undefined ? 'no C compiler' : false }, async (t) => {
  const bin = harness(t);
  // Watching never drops the PBX's answers; fail-closed dropped those the drain read at a stop.
  t.equal(spawnSync(bin, ['close-out', 'closed'], { encoding: 'utf8' }).stdout.trim(), 'in: accepted 0 dropped 10; out: accepted 10 dropped 0', 'fail-closed');
  t.equal(spawnSync(bin, ['close-out', 'open'], { encoding: 'utf8' }).stdout.trim(), 'in: accepted 10 dropped 0; out: accepted 10 dropped 0', 'fail-open');
});

t.test('a netlink header that lies about its length', { skip: cc === undefined ? 'no C compiler' : false }, async (t) => {
  const bin = harness(t);
  // 4 GiB - 16 bytes claimed in a 64-byte datagram: libmnl's own check casts the length to int and lets it by.
  const huge = spawnSync(bin, ['huge-len', 'open'], { encoding: 'utf8' });
  t.equal(huge.signal, null, 'no crash on a lying netlink length');
  t.equal(huge.stdout.trim(), 'survived, id 1: drop', 'and the next packet is judged');
});
