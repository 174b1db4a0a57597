import t from 'tap';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_KERNEL_OPTIONS, validateKernelOptions, type KernelOptionsInput } from '../../src/kernel/kernel-options.js';

t.test('defaults', async (t) => {
  const o = validateKernelOptions({});
  t.same(o, {
    ports: { from: 5060, to: 5082 },
    tlsPorts: [5061],
    queueNum: 5060,
    failOpen: true,
    trustMark: 0x5157,
    trustSkipQueue: true,
    watchAnswers: true,
    watchMark: 0x200000,
    answerPrefilter: true,
    banScope: 'sip-ports',
    ipv6: true,
    setMaxElem: 131072,
    set4: 'sipwall-ban4',
    set6: 'sipwall-ban6',
  });
  t.same(validateKernelOptions(), o);
  t.ok(Object.isFrozen(DEFAULT_KERNEL_OPTIONS), 'defaults cannot be mutated by a caller');
});

t.test('port forms', async (t) => {
  t.same(validateKernelOptions({ ports: '5060-5061' }).ports, { from: 5060, to: 5061 });
  t.same(validateKernelOptions({ ports: '5060:5090' }).ports, { from: 5060, to: 5090 });
  t.same(validateKernelOptions({ ports: 5060 }).ports, { from: 5060, to: 5060 });
  t.same(validateKernelOptions({ ports: { from: 1, to: 65535 } }).ports, { from: 1, to: 65535 });
});

t.test('rejections name the key and carry the config code', async (t) => {
  const bad: Array<[KernelOptionsInput | Record<string, unknown>, string]> = [
    [{ ports: '5082-5060' }, 'ports'],
    [{ ports: '0-10' }, 'ports'],
    [{ ports: '5060-65536' }, 'ports'],
    [{ ports: 'sip' }, 'ports'],
    [{ ports: { from: 5060, to: 5061, x: 1 } }, 'ports'],
    [{ ports: { from: 5060.5, to: 5061 } }, 'ports'],
    [{ queueNum: -1 }, 'queueNum'],
    [{ queueNum: 65536 }, 'queueNum'],
    [{ queueNum: 1.5 }, 'queueNum'],
    [{ trustMark: 0 }, 'trustMark'],
    [{ trustMark: 0x100000000 }, 'trustMark'],
    [{ watchMark: 0 }, 'watchMark'],
    [{ watchMark: 0x1 }, 'watchMark'], // shares bit 0 with trustMark 0x5157
    [{ trustMark: 0x80000000, watchMark: 0x80000001 }, 'watchMark'],
    [{ answerPrefilter: 'yes' }, 'answerPrefilter'],
    [{ setMaxElem: 0 }, 'setMaxElem'],
    [{ failOpen: 'yes' }, 'failOpen'],
    [{ ipv6: 1 }, 'ipv6'],
    [{ banScope: 'everything' }, 'banScope'],
    [{ set4: 'ban set' }, 'set4'],
    [{ set4: 'x\n-A INPUT -j ACCEPT' }, 'set4'],
    [{ set4: '-exist' }, 'set4'],
    [{ set6: 'a'.repeat(27) }, 'set6'],
    [{ set4: 'same', set6: 'same' }, 'set6'],
    [{ queue: 3 }, 'queue'],
  ];
  for (const [input, key] of bad) {
    let caught: unknown;
    try {
      validateKernelOptions(input as KernelOptionsInput, 'sipwall.yaml');
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError, `${JSON.stringify(input)} refused`);
    t.match(caught, { code: 'SIPWALL_ERR_CONFIG', key, file: 'sipwall.yaml' }, JSON.stringify(input));
  }
  t.throws(() => validateKernelOptions(null as unknown as KernelOptionsInput), { code: 'SIPWALL_ERR_CONFIG' });
});

t.test('limits that are allowed', async (t) => {
  const o = validateKernelOptions({ queueNum: 0, trustMark: 0x7fffffff, watchMark: 0x80000000, set4: 'a', set6: 'a'.repeat(26), setMaxElem: 1 });
  t.equal(o.queueNum, 0);
  t.equal(o.trustMark, 0x7fffffff);
  t.equal(o.watchMark, 0x80000000, 'the top bit, disjoint from trustMark');
  t.equal(o.set6.length, 26);
});
