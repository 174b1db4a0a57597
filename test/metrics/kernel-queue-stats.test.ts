// /proc/net/netfilter/nfnetlink_queue as seq_show() in
// net/netfilter/nfnetlink_queue.c prints it: "%5u %6u %5u %1u %5u %5u %5u %8u %2d".

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseKernelQueueStats, readKernelQueueStats } from '../../src/queue/kernel-queue-stats.js';

const TEXT = [
  '    0  31337     0 2 65535     0     0        0  1',
  ' 5060 -4001 junk',
  ' 5060  12345     7 2 65535    11     3   987654  1',
  '  310   2222     0 2  1500     0     0       42  1',
  '',
].join('\n');

t.test('the line of our queue, every column in its place', async (t) => {
  t.same(parseKernelQueueStats(TEXT, 5060), { peerPortId: 12345, waiting: 7, copyMode: 2, copyRange: 65535, queueDropped: 11, userDropped: 3, idSequence: 987654 });
  t.same(parseKernelQueueStats(TEXT, 310), { peerPortId: 2222, waiting: 0, copyMode: 2, copyRange: 1500, queueDropped: 0, userDropped: 0, idSequence: 42 });
  t.equal(parseKernelQueueStats(TEXT, 0)?.peerPortId, 31337, 'queue 0 (another tool\'s) is not confused with ours');
});

t.test('no line for the queue: not bound', async (t) => {
  t.equal(parseKernelQueueStats(TEXT, 311), null);
  t.equal(parseKernelQueueStats('', 5060), null);
  t.equal(parseKernelQueueStats('5060 1 2 3', 5060), null, 'a short line is not taken');
});

t.test('readKernelQueueStats: the file, or null when it is missing (module not loaded)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-proc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'nfnetlink_queue');
  writeFileSync(f, TEXT);
  t.equal(readKernelQueueStats(5060, f)?.queueDropped, 11);
  t.equal(readKernelQueueStats(5060, join(dir, 'missing')), null);
});
