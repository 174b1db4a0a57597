// Queue options are checked in TypeScript, completely, before anything native
// happens: a bad option is a ConfigError naming the key, and the addon is not
// even loaded into the process.

import { readFileSync } from 'node:fs';
import t from 'tap';
import { NATIVE_ADDON_PATH, loadNativeAddon } from '../../src/queue/native-addon.js';
import { NfQueue, QUEUE_DEFAULTS, validateQueueOptions } from '../../src/queue/nfqueue.js';

function addonMapped(): boolean {
  return readFileSync('/proc/self/maps', 'utf8').includes(NATIVE_ADDON_PATH);
}

const BAD: [string, unknown, string][] = [
  ['not an object', 42, ''],
  ['null', null, ''],
  ['an array', [100], ''],
  ['missing queueNum', {}, 'queueNum'],
  ['unknown key', { queueNum: 100, batchsize: 10 }, 'batchsize'],
  ['queueNum negative', { queueNum: -1 }, 'queueNum'],
  ['watchMark sharing bits with trustMark', { queueNum: 100, trustMark: 0x5157, watchMark: 0x1 }, 'watchMark'],
  ['watchMark negative', { queueNum: 100, watchMark: -1 }, 'watchMark'],
  ['queueNum too big', { queueNum: 65536 }, 'queueNum'],
  ['queueNum fractional', { queueNum: 1.5 }, 'queueNum'],
  ['queueNum as string', { queueNum: '100' }, 'queueNum'],
  ['queueNum NaN', { queueNum: Number.NaN }, 'queueNum'],
  ['maxLen 0', { queueNum: 100, maxLen: 0 }, 'maxLen'],
  ['copyRange 0', { queueNum: 100, copyRange: 0 }, 'copyRange'],
  ['copyRange over 64 KiB', { queueNum: 100, copyRange: 65536 }, 'copyRange'],
  ['failOpen as string', { queueNum: 100, failOpen: 'yes' }, 'failOpen'],
  ['gso as number', { queueNum: 100, gso: 1 }, 'gso'],
  ['rcvBufBytes too small', { queueNum: 100, rcvBufBytes: 1024 }, 'rcvBufBytes'],
  ['batchSize 0', { queueNum: 100, batchSize: 0 }, 'batchSize'],
  ['batchSize over UIO_MAXIOV', { queueNum: 100, batchSize: 1025 }, 'batchSize'],
  ['trustMark 0', { queueNum: 100, trustMark: 0 }, 'trustMark'],
  ['trustMark over u32', { queueNum: 100, trustMark: 2 ** 32 }, 'trustMark'],
  ['tcpEmptyAccept null', { queueNum: 100, tcpEmptyAccept: null }, 'tcpEmptyAccept'],
  ['hotMaxEntries Infinity', { queueNum: 100, hotMaxEntries: Infinity }, 'hotMaxEntries'],
  ['hotMaxEntries over 2^20', { queueNum: 100, hotMaxEntries: 2 ** 20 + 1 }, 'hotMaxEntries'],
];

t.test('defaults', async (t) => {
  const o = validateQueueOptions({ queueNum: 100 });
  t.same(o, { queueNum: 100, ...QUEUE_DEFAULTS }, 'defaults filled in');
  t.equal(o.maxLen, 4096);
  t.equal(o.copyRange, 65535);
  t.equal(o.failOpen, true);
  t.equal(o.rcvBufBytes, 8 * 1024 * 1024);
  t.equal(o.batchSize, 128);
  t.equal(o.trustMark, 0x5157);
  t.equal(o.tcpEmptyAccept, true);
  t.equal(o.hotMaxEntries, 65536);
  t.ok(Object.isFrozen(o), 'frozen');
  const all = validateQueueOptions({
    queueNum: 0,
    maxLen: 1,
    copyRange: 1,
    failOpen: false,
    gso: false,
    rcvBufBytes: 65536,
    batchSize: 1024,
    trustMark: 0xffffffff,
    tcpEmptyAccept: false,
    hotMaxEntries: 1,
  });
  t.equal(all.batchSize, 1024, 'bounds are inclusive');
  t.equal(all.trustMark, 0xffffffff, 'full u32 mark');
});

t.test('bad options are refused before any native call', async (t) => {
  t.equal(addonMapped(), false, 'addon not loaded at start');
  for (const [what, opts, key] of BAD) {
    t.throws(() => validateQueueOptions(opts), { name: 'ConfigError', code: 'SIPWALL_ERR_CONFIG', key }, `${what}: refused`);
    t.throws(
      () => NfQueue.open(opts as never, () => undefined),
      { code: 'SIPWALL_ERR_CONFIG', key },
      `${what}: NfQueue.open refuses it too`,
    );
  }
  t.throws(() => NfQueue.open({ queueNum: 100 }, 'nope' as never), { code: 'SIPWALL_ERR_QUEUE' }, 'onBatch must be a function');
  t.equal(addonMapped(), false, 'the addon was never loaded');
  // The check above can fail: loading the addon does map it.
  loadNativeAddon();
  t.equal(addonMapped(), true, 'loading it maps it');
});
