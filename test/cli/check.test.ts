// `sipwall check` end to end, as the admin runs it: a child process, the real
// corpus captures, JSON lines out.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { CORPUS_DIR, ROOT } from '../helpers/engine-fixtures.js';
import { runCliIsolated } from '../helpers/netns.js';

const BIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const CONFIG = join(ROOT, 'test', 'fixtures', 'config', 'corpus.yaml');
const ATTACKER = '10.99.0.1';
const PBX = '10.99.0.2';

interface Row { src?: string; verdict?: string | null; reason?: string; method?: string; status?: number; summary?: Record<string, unknown> }

function check(args: string[]): { code: number | null; rows: Row[]; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [BIN, 'check', ...args], { encoding: 'utf8', timeout: 60_000 });
  const rows = r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Row);
  return { code: r.status, rows, stderr: r.stderr, stdout: r.stdout };
}

for (const [file, expect] of [
  ['svmap.pcap', 'drop'],
  ['svwar.pcap', 'drop'],
  ['svcrack.pcap', 'drop'],
  ['legit-sipp.pcap', 'accept'],
  ['legit-baresip.pcap', 'accept'],
] as const) {
  t.test(`${file}: every client packet is ${expect === 'drop' ? 'dropped' : 'accepted'}`, async (t) => {
    const { code, rows, stderr } = check(['--config', CONFIG, join(CORPUS_DIR, file)]);
    t.equal(code, 0, stderr);
    const packets = rows.filter((r) => r.summary === undefined);
    const client = packets.filter((r) => r.src === ATTACKER);
    t.ok(client.length > 0, `${client.length} client packets`);
    for (const r of client) t.equal(r.verdict, expect, `${r.method ?? r.status} from the client: ${expect} (${r.reason})`);
    for (const r of packets.filter((r) => r.src === PBX)) t.equal(r.verdict, 'accept', 'the PBX answers pass');
    for (const r of packets) t.ok(r.method !== undefined || r.status !== undefined, 'each row names a method or a status');
    const summary = rows.at(-1)?.summary as { drop: number; accept: number; bans: unknown[] } | undefined;
    t.ok(summary, 'a summary closes the output');
    if (expect === 'drop') {
      t.equal(summary?.drop, client.length);
      t.equal(summary?.bans.length, 1, 'the attacker is banned once');
      t.match(client[0], { reason: 'scanner-ua' });
      t.ok(client.slice(1).every((r) => r.reason === 'banned'), 'then dropped as banned');
    } else {
      t.equal(summary?.drop, 0);
      t.match(client[0], { reason: 'secret-host' });
    }
  });
}

t.test('signatures off: the PBX\'s answers alone stop svwar and svcrack (issue 6), and pass the phones', async (t) => {
  // Every User-Agent and fingerprint rule switched off: what is left is behaviour.
  const defaults = parseYaml(readFileSync(join(ROOT, 'rules', 'default.yaml'), 'utf8')) as { userAgents: Record<string, unknown>; fingerprints: Record<string, unknown> };
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'no-signatures.yaml');
  const off = (ids: Record<string, unknown>): Record<string, { enabled: false }> => Object.fromEntries(Object.keys(ids).map((k) => [k, { enabled: false }]));
  writeFileSync(cfg, stringifyYaml({ secretHosts: ['secret-7f3a.pbx.example.com'], userAgents: off(defaults.userAgents), fingerprints: off(defaults.fingerprints) }));
  type OutRow = Row & { frame: number; dir?: string; ban?: number; rule?: string };
  const run = (file: string): { rows: OutRow[]; bans: Array<{ source: string; reason: string }> } => {
    const r = check(['--config', cfg, join(CORPUS_DIR, file)]);
    t.equal(r.code, 0, r.stderr);
    const summary = r.rows.at(-1)?.summary as { bans: Array<{ source: string; reason: string }> };
    return { rows: r.rows.slice(0, -1) as OutRow[], bans: summary.bans };
  };

  const war = run('svwar.pcap');
  t.same(war.bans.map((b) => [b.source, b.reason]), [[ATTACKER, 'unknown-users']], 'svwar: banned for the 404s it provoked');
  const warBan = war.rows.find((r) => r.ban !== undefined)!;
  t.match(warBan, { dir: 'out', status: 404, src: PBX }, 'by an answer of the PBX');
  const reached = war.rows.filter((r) => r.src === ATTACKER && r.verdict === 'accept');
  t.equal(reached.length, 1, 'one REGISTER reached the PBX: its 404 banned the source (unknownUsersBeforeAuth limit 1)');
  const learnt = war.rows.filter((r) => r.dir === 'out' && r.status === 401 && r.frame < warBan.frame);
  t.equal(learnt.length, 0, 'no 401 (an existing extension) was answered before the ban: svwar learnt no extension');
  t.ok(war.rows.filter((r) => r.src === ATTACKER && r.frame > warBan.frame).every((r) => r.reason === 'banned'), 'everything after is dropped');

  const crack = run('svcrack.pcap');
  t.same(crack.bans.map((b) => [b.source, b.reason]), [[ATTACKER, 'auth-failures']], 'svcrack: banned for failed authentication');
  const guesses = crack.rows.filter((r) => r.src === ATTACKER && r.verdict === 'accept');
  t.equal(guesses.length, 6, 'the challenge-less first REGISTER and 5 guesses reached the PBX (authFailures limit 5)');

  for (const file of ['legit-sipp.pcap', 'legit-baresip.pcap', 'svmap.pcap']) {
    const r = run(file);
    t.same(r.bans, [], `${file}: nobody banned`);
    t.ok(r.rows.every((x) => x.verdict === 'accept'), `${file}: everything accepted`);
    t.ok(r.rows.filter((x) => x.src === PBX).every((x) => x.dir === 'out' && x.reason === 'answer'), `${file}: the PBX's packets are watched as answers`);
  }
});

t.test('raw SIP message files and --summary', async (t) => {
  const { code, rows } = check(['--defaults', '--summary', join(ROOT, 'rules', 'samples', 'friendly-scanner', 'svmap-options.sip'), join(ROOT, 'rules', 'samples', '_legit', 'baresip-options.sip')]);
  t.equal(code, 0);
  t.equal(rows.length, 1, 'only the summary');
  t.match(rows[0]?.summary, { packets: 2, drop: 2, byReason: { 'scanner-ua': 1, banned: 1 } }, 'same default source: banned after the first');
  const v6 = check(['--defaults', '--src', '2001:db8::7', join(ROOT, 'rules', 'samples', '_legit', 'baresip-options.sip')]);
  t.match(v6.rows[0], { src: '2001:db8::7', method: 'OPTIONS', verdict: 'accept', reason: 'ok' });
});

t.test('bad usage and bad input: one-line errors and distinct exit codes, never a crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'rateLimits:\n  register:\n    limit: -1\n');
  const big = join(dir, 'big.bin');
  writeFileSync(big, Buffer.alloc(70_000, 0x41));
  const truncated = join(dir, 'truncated.pcap');
  const { readFileSync } = await import('node:fs');
  writeFileSync(truncated, readFileSync(join(CORPUS_DIR, 'svwar.pcap')).subarray(0, 700));
  const cutHeader = join(dir, 'cut.pcap');
  writeFileSync(cutHeader, Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00])); // a pcap magic, then the file ends
  const badBom = join(dir, 'bad-bom.pcapng');
  writeFileSync(badBom, Buffer.concat([Buffer.from([0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde]), Buffer.alloc(16)]));
  const cases: Array<[string[], number, RegExp]> = [
    [['--config', CONFIG, cutHeader], 65, /cut\.pcap: not a pcap or pcapng capture/],
    [['--config', CONFIG, badBom], 65, /bad-bom\.pcapng: not a pcap or pcapng capture/],
    [['--bogus', 'x'], 64, /Unknown option '--bogus'/],
    // The last -c used to win silently, dropping the first file's rules.
    [['-c', CONFIG, '--config', CONFIG, 'x'], 64, /--config given more than once/],
    [['--src', '192.0.2.1', '--src', '192.0.2.2', 'x'], 64, /--src given more than once/],
    [[], 64, /at least one/],
    [['--ports', '99999', 'x'], 64, /bad port range/],
    [['--src', 'nope', 'x'], 64, /not an IP address/],
    [['--defaults', join(dir, 'missing.pcap')], 65, /no such file/],
    [['--defaults', big], 65, /neither a capture/],
    [['--config', bad, join(CORPUS_DIR, 'svmap.pcap')], 78, /bad\.yaml: rateLimits\.register\.limit: must be between/],
  ];
  const codes: Record<number, string> = { 64: 'SIPWALL_ERR_USAGE', 65: 'SIPWALL_ERR_INPUT', 78: 'SIPWALL_ERR_CONFIG' };
  for (const [args, code, msg] of cases) {
    const r = check(args);
    t.equal(r.code, code, `${args.join(' ')} exits ${code}`);
    t.match(r.stderr, msg);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.ok(r.stderr.trimEnd().endsWith(` [${codes[code]}]`), `ends with its code: ${r.stderr}`);
    t.notMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  }
  const tr = check(['--defaults', truncated]);
  t.equal(tr.code, 0, 'a truncated capture is read as far as it goes');
  t.ok(tr.rows.some((r) => r.reason === 'undecodable'), 'and its broken last record is reported');
});

t.test('sipwall with no command, --help, --version, unknown command', async (t) => {
  const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  t.equal(run([]).status, 64);
  t.equal(run(['--help']).status, 0);
  t.match(run(['--help']).stdout, /check/);
  t.match(run(['--version']).stdout, /^\d+\.\d+\.\d+/);
  const u = run(['frobnicate']);
  t.equal(u.status, 64);
  t.match(u.stderr, /unknown command "frobnicate"/);
  t.equal(run(['check', '--help']).status, 0);
  // A forgotten -c must not run with the default rules (start would go inline with them).
  // In a network namespace of its own and bounded: were the check ever to
  // break, start and cleanup must not touch this host's rules or hang.
  const isolated = (args: string[]) => runCliIsolated(BIN, args);
  for (const cmd of ['start', 'rules', 'cleanup', 'watch']) {
    const r = isolated([cmd, '/etc/sipwall/custom.yaml']);
    t.equal(r.status, 64, `${cmd} FILE exits 64 before doing anything`);
    t.match(r.stderr, new RegExp(`sipwall ${cmd}: unexpected argument "/etc/sipwall/custom.yaml"; a rules file is given with -c FILE`));
    t.equal(r.stdout, '', 'nothing printed, nothing done');
  }
});

t.test('the PBX is learnt from the capture, even one that starts with the PBX\'s own request', async (t) => {
  const { ipv4, pcap, udp } = await import('../packet/packet-builders.js');
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-check-pbx-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const PBX = '10.0.0.1';
  const qualify = 'OPTIONS sip:101@198.51.100.20 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-q1\r\nFrom: <sip:pbx@10.0.0.1>;tag=q\r\nTo: <sip:101@198.51.100.20>\r\nCall-ID: q1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';
  const scanner = readFileSync(join(ROOT, 'rules', 'samples', 'friendly-scanner', 'svmap-options.sip'), 'latin1');
  const frame = (src: string, dst: string, text: string) => ipv4({ src, dst, payload: udp({ sport: 5060, dport: 5060, data: text }) });
  const write = (name: string, frames: Buffer[]): string => {
    const f = join(dir, name);
    writeFileSync(f, pcap({ linkType: 228, records: frames.map((data, i) => ({ sec: 1_700_000_000 + i, frac: 0, data })) }));
    return f;
  };
  // Taken on the PBX: it is in every packet; the capture starts with its qualify to a phone.
  const onPbx = write('on-pbx.pcap', [frame(PBX, '198.51.100.20', qualify), frame('198.51.100.7', PBX, scanner), frame('198.51.100.8', PBX, scanner)]);
  const r = check(['--config', CONFIG, onPbx]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.rows[0], { src: PBX, dir: 'out', reason: 'answer' }, 'the PBX\'s own request is watched as leaving it');
  t.match(r.rows[1], { src: '198.51.100.7', verdict: 'drop', reason: 'scanner-ua' }, 'the scanner is judged, not taken for the PBX');
  t.match(r.rows[2], { src: '198.51.100.8', verdict: 'drop', reason: 'scanner-ua' });
  // Two hosts only: both are in every packet; the one sent more requests is the PBX.
  const two = write('two.pcap', [frame(PBX, '198.51.100.7', qualify), frame('198.51.100.7', PBX, scanner), frame('198.51.100.7', PBX, scanner)]);
  const r2 = check(['--config', CONFIG, two]);
  t.match(r2.rows[1], { src: '198.51.100.7', verdict: 'drop', reason: 'scanner-ua' }, 'two hosts: the scanner is judged');
  t.equal(check(['--config', CONFIG, '--pbx', '198.51.100.7', two]).rows[1]?.reason, 'answer', '--pbx still decides when given');
});

t.test('rules --print prints the config warnings on stderr, the script alone on stdout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-rules-print-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'w.yaml');
  writeFileSync(cfg, 'secretHosts: [a.example.com]\ntrusted: ["0.0.0.0/0", "10.0.0.1/8"]\n');
  const r = spawnSync(process.execPath, [BIN, 'rules', '--print', '-c', cfg], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /sipwall rules: warning: .*trusted\[0\]: 0\.0\.0\.0\/0 trusts every IPv4 source/);
  t.match(r.stderr, /sipwall rules: warning: .*trusted\[1\]: 10\.0\.0\.1\/8 has host bits set/);
  t.match(r.stdout, /^# ipset/, 'the script is untouched');
  t.notMatch(r.stdout, /warning/);
});
