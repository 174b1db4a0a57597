import t from 'tap';
import { validateKernelOptions } from '../../src/kernel/kernel-options.js';
import { ourJump, renderFamily, renderRules } from '../../src/kernel/render-rules.js';

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

/** The lines of one table's section. */
function section(script: string, table: string): string[] {
  const all = lines(script);
  const start = all.indexOf(`*${table}`);
  if (start < 0) return [];
  return all.slice(start, all.indexOf('COMMIT', start) + 1);
}

t.test('defaults: bans in raw, queue in mangle, both families', async (t) => {
  const r = renderRules({});
  for (const [script, set, family] of [[r.v4, 'sipwall-ban4', 4], [r.v6, 'sipwall-ban6', 6]] as const) {
    // The UDP payload: after the IPv4 header (its length from IHL), or 48 bytes in (IPv6 + UDP headers).
    const at = (n: number): string => `0x${(family === 4 ? `0>>0x16&0x3c@0x${n.toString(16)}` : (40 + n).toString(16))}`;
    const raw = section(script, 'raw');
    t.same(raw, [
      '*raw',
      ':SIPWALL-BAN - [0:0]',
      `-A SIPWALL-BAN -p udp -m udp --dport 5060:5082 -m set --match-set ${set} src -j DROP`,
      `-A SIPWALL-BAN -p tcp -m tcp --dport 5060:5082 -m set --match-set ${set} src -j DROP`,
      '-I PREROUTING 1 -j SIPWALL-BAN',
      'COMMIT',
    ]);
    const mangle = section(script, 'mangle');
    t.same(mangle, [
      '*mangle',
      ':SIPWALL - [0:0]',
      '-A SIPWALL -p tcp -m tcp --dport 5061 -j RETURN',
      '-A SIPWALL -p udp -m udp --dport 5060:5082 -j NFQUEUE --queue-num 5060 --queue-bypass',
      '-A SIPWALL -p tcp -m tcp --dport 5060:5082 -j NFQUEUE --queue-num 5060 --queue-bypass',
      '-I INPUT 1 -m connmark ! --mark 0x5157/0x5157 -j SIPWALL',
      ':SIPWALL-OUT - [0:0]',
      '-A SIPWALL-OUT -p udp -m udp --sport 5060:5082 -m connmark --mark 0x200000/0x200000 -j NFQUEUE --queue-num 5060 --queue-bypass',
      `-A SIPWALL-OUT -p udp -m udp --sport 5060:5082 -m u32 --u32 "${at(8)}=0x5349502f&&${at(16)}>>0x8=0x333030:0x343030,0x343032:0x343036,0x343038:0x363939" -j NFQUEUE --queue-num 5060 --queue-bypass`,
      `-A SIPWALL-OUT -p udp -m udp --sport 5060:5082 -m u32 --u32 "${at(8)}=0x42594520,0x43414e43" -j NFQUEUE --queue-num 5060 --queue-bypass`,
      '-A SIPWALL-OUT -p tcp -m tcp --sport 5061 -j RETURN',
      '-A SIPWALL-OUT -p tcp -m tcp --sport 5060:5082 -j NFQUEUE --queue-num 5060 --queue-bypass',
      '-I OUTPUT 1 -m connmark ! --mark 0x5157/0x5157 -j SIPWALL-OUT',
      'COMMIT',
    ]);
    t.same(section(script, 'security'), [
      '*security',
      ':SIPWALL-MARK - [0:0]',
      '-A SIPWALL-MARK -m mark --mark 0x5157/0x5157 -j CONNMARK --set-xmark 0x5157/0x5157',
      '-A SIPWALL-MARK -m mark --mark 0x200000/0x200000 -j CONNMARK --set-xmark 0x200000/0x200000',
      '-I INPUT 1 -m mark ! --mark 0x0/0x205157 -j SIPWALL-MARK',
      '-I OUTPUT 1 -m mark ! --mark 0x0/0x205157 -j SIPWALL-MARK',
      'COMMIT',
    ]);
    t.same(section(script, 'filter'), [], 'nothing in the filter table');
    t.notOk(script.includes('-F ') || script.includes('-X '), 'never flushes or deletes a chain by command');
  }
  t.same(lines(r.ipset), [
    'create sipwall-ban4 hash:net family inet maxelem 131072 timeout 0',
    'create sipwall-ban6 hash:net family inet6 maxelem 131072 timeout 0',
  ]);
  t.notMatch(r.v4, /sipwall-ban6/);
  t.notMatch(r.v6, /sipwall-ban4/);
});

t.test('options change the right lines', async (t) => {
  const r = renderRules({
    ports: '5070-5071',
    queueNum: 201,
    failOpen: false,
    trustMark: 0x10,
    banScope: 'all',
    ipv6: false,
    setMaxElem: 1000,
    set4: 'b4',
  });
  t.equal(r.v6, '', 'no IPv6 script');
  t.same(lines(r.ipset), ['create b4 hash:net family inet maxelem 1000 timeout 0']);
  const raw = section(r.v4, 'raw');
  t.same(raw.filter((l) => l.startsWith('-A SIPWALL-BAN')), ['-A SIPWALL-BAN -m set --match-set b4 src -j DROP'], 'banScope all: any protocol and port');
  const mangle = section(r.v4, 'mangle');
  t.ok(mangle.includes('-I INPUT 1 -m connmark ! --mark 0x10/0x10 -j SIPWALL'), 'trusted connections skip the jump');
  t.ok(mangle.includes('-I OUTPUT 1 -m connmark ! --mark 0x10/0x10 -j SIPWALL-OUT'));
  t.ok(section(r.v4, 'security').includes('-I INPUT 1 -m mark ! --mark 0x0/0x200010 -j SIPWALL-MARK'), 'only packets with our bits enter the mark chain');
  t.ok(mangle.includes('-A SIPWALL -p udp -m udp --dport 5070:5071 -j NFQUEUE --queue-num 201'), 'fail closed: no --queue-bypass');
  t.notOk(mangle.some((l) => l.startsWith('-A SIPWALL ') && l.includes('queue-bypass')), 'fail closed: inbound SIP waits for sipwall');
  const out = mangle.filter((l) => l.startsWith('-A SIPWALL-OUT -p '));
  t.equal(out.length, 4);
  t.ok(out.every((l) => l.includes('--sport 5070:5071 ') && l.endsWith(' -j NFQUEUE --queue-num 201 --queue-bypass')), 'answers are watched fail-open whatever failOpen says');
  const plain = section(renderRules({ answerPrefilter: false, watchMark: 0x80 }).v4, 'mangle').filter((l) => l.startsWith('-A SIPWALL-OUT -p '));
  t.same(plain, [
    '-A SIPWALL-OUT -p udp -m udp --sport 5060:5082 -j NFQUEUE --queue-num 5060 --queue-bypass',
    '-A SIPWALL-OUT -p tcp -m tcp --sport 5061 -j RETURN',
    '-A SIPWALL-OUT -p tcp -m tcp --sport 5060:5082 -j NFQUEUE --queue-num 5060 --queue-bypass',
  ], 'answerPrefilter false: everything the PBX sends is queued (but TLS)');
  t.notMatch(renderRules({ answerPrefilter: false, watchMark: 0x80 }).v4, /0x80\/0x80/, 'and no watch mark is copied');
  t.match(renderRules({ watchMark: 0x80 }).v4, /-m connmark --mark 0x80\/0x80 -j NFQUEUE/, 'watchMark sets the watched-connection rule');
  const noWatch = section(renderRules({ watchAnswers: false }).v4, 'mangle');
  t.notOk(noWatch.some((l) => l.startsWith('-A SIPWALL-OUT')), 'watchAnswers false: the out chain stays empty');
  t.ok(noWatch.includes('-I OUTPUT 1 -m connmark ! --mark 0x5157/0x5157 -j SIPWALL-OUT'), 'but exists, with its jump, so install and removal handle one shape');
  t.ok(section(renderRules({ watchAnswers: false }).v4, 'security').includes('-I INPUT 1 -m mark ! --mark 0x0/0x5157 -j SIPWALL-MARK'), 'no watch bit to copy');
  // iptables-save prints a full mask as no mask at all; the jump is written that way so it reads back the same.
  const full = section(renderRules({ trustMark: 0xffff0000, watchMark: 0xffff }).v4, 'security');
  t.ok(full.includes('-I INPUT 1 -m mark ! --mark 0x0 -j SIPWALL-MARK'));
});

t.test('tlsPorts: TCP to and from them returns before the queue rules; UDP is still queued', async (t) => {
  const m = section(renderRules({ tlsPorts: [5063, 5061, 5063, 9000] }).v4, 'mangle');
  const mine = m.filter((l) => l.includes('-j RETURN'));
  t.same(mine, [
    '-A SIPWALL -p tcp -m tcp --dport 5061 -j RETURN',
    '-A SIPWALL -p tcp -m tcp --dport 5063 -j RETURN',
    '-A SIPWALL-OUT -p tcp -m tcp --sport 5061 -j RETURN',
    '-A SIPWALL-OUT -p tcp -m tcp --sport 5063 -j RETURN',
  ], 'sorted, once each; 9000 is not a SIP port and needs nothing');
  t.ok(m.indexOf('-A SIPWALL -p tcp -m tcp --dport 5063 -j RETURN') < m.findIndex((l) => l.startsWith('-A SIPWALL -p tcp -m tcp --dport 5060:5082 -j NFQUEUE')), 'before the TCP queue rule');
  t.ok(m.indexOf('-A SIPWALL-OUT -p tcp -m tcp --sport 5063 -j RETURN') < m.findIndex((l) => l.startsWith('-A SIPWALL-OUT -p tcp -m tcp --sport 5060:5082 -j NFQUEUE')));
  t.notOk(m.some((l) => l.includes('-p udp') && l.includes('RETURN')), 'no UDP port skips the queue');
  t.notMatch(renderRules({ tlsPorts: [] }).v4, /RETURN/, '[]: every TCP port queued');
  t.notMatch(renderRules({ ports: '5070-5071' }).v4, /RETURN/, 'the default 5061 outside a narrowed range: nothing');
  t.match(renderRules({ ports: 5060 }).v4, /-A SIPWALL -p udp -m udp --dport 5060 -j NFQUEUE/, 'one port written as iptables-save prints it back');
  t.same(validateKernelOptions({ ports: '5070-5071' }).tlsPorts, [], 'and not reported as a TLS port');
  t.match(section(renderRules({ tlsPorts: [5061], banScope: 'sip-ports' }).v4, 'raw'), ['*raw', ':SIPWALL-BAN - [0:0]', /--dport 5060:5082 -m set/, /-p tcp -m tcp --dport 5060:5082 -m set/], 'bans still cover the TLS port');
  for (const bad of [[0], [65536], [1.5], ['5061'], Array.from({ length: 17 }, (_, i) => 5060 + i), 5061]) {
    t.throws(() => validateKernelOptions({ tlsPorts: bad as number[] }), { code: 'SIPWALL_ERR_CONFIG', message: /tlsPorts/ }, `refused: ${JSON.stringify(bad)}`);
  }
});

t.test('trustSkipQueue false: unguarded jumps, every connection queued', async (t) => {
  const r = renderRules({ trustSkipQueue: false });
  t.notMatch(r.v4, /connmark ! --mark 0x5157/);
  t.ok(section(r.v4, 'mangle').includes('-I INPUT 1 -j SIPWALL'));
  t.ok(section(r.v4, 'mangle').includes('-I OUTPUT 1 -j SIPWALL-OUT'));
  t.equal(section(r.v4, 'mangle').filter((l) => l.startsWith('-A SIPWALL ') && l.includes('NFQUEUE')).length, 2);
});

t.test('jumps present are replaced by one, in the same transaction', async (t) => {
  const fresh = renderFamily(validateKernelOptions({}), 4);
  const again = renderFamily(validateKernelOptions({}), 4, {
    ban: ['-j SIPWALL-BAN', '-j SIPWALL-BAN'],
    queue: ['-m connmark ! --mark 0x10/0x10 -j SIPWALL'],
    mark: [],
    out: ['-j SIPWALL-OUT'],
    markOut: ['-m mark ! --mark 0x0/0x5157 -j SIPWALL-MARK'],
  });
  const diff = lines(again).filter((l) => !lines(fresh).includes(l));
  t.same(diff, [
    '-D PREROUTING -j SIPWALL-BAN',
    '-D PREROUTING -j SIPWALL-BAN',
    '-D INPUT -m connmark ! --mark 0x10/0x10 -j SIPWALL',
    '-D OUTPUT -j SIPWALL-OUT',
    '-D OUTPUT -m mark ! --mark 0x0/0x5157 -j SIPWALL-MARK',
  ]);
  t.equal(lines(again).length - lines(fresh).length, 5, 'and each wanted jump inserted once');
});

t.test('every jump rendered, for any options, is recognised as ours; other rules are not', async (t) => {
  const variants = [{}, { trustSkipQueue: false }, { watchAnswers: false }, { answerPrefilter: false }, { trustMark: 0xfffffffe, watchMark: 0x1 }, { trustMark: 0x10, watchMark: 0x20 }];
  for (const v of variants) {
    for (const l of lines(renderRules(v).v4).filter((x) => x.startsWith('-I '))) {
      const [, , , ...spec] = l.split(' ');
      const chain = spec[spec.length - 1]!;
      t.ok(ourJump(chain, spec.join(' ')), `${JSON.stringify(v)}: ${l}`);
    }
  }
  t.notOk(ourJump('SIPWALL', '-s 192.0.2.5/32 -j SIPWALL'), 'an admin rule with a source match');
  t.notOk(ourJump('SIPWALL', '-m connmark --mark 0x5157/0x5157 -j SIPWALL'), 'the un-negated test');
  t.notOk(ourJump('SIPWALL-MARK', '-m mark ! --mark 0x1/0x5157 -j SIPWALL-MARK'), 'a value other than 0');
  t.notOk(ourJump('SIPWALL', '-j SIPWALL-OUT'), 'another chain');
  t.notOk(ourJump('FOO', '-j FOO'), 'not one of our chains');
});

t.test('invalid options are refused before rendering', async (t) => {
  t.throws(() => renderRules({ set4: 'x y' }), { code: 'SIPWALL_ERR_CONFIG' });
});
