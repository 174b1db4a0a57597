import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_RULES_FILE, loadConfig } from '../../src/rules/load-config.js';
import { FINGERPRINT, SCHEMA, validateConfig } from '../../src/rules/validate-config.js';

type T = Test;
const dir = mkdtempSync(join(tmpdir(), 'sipwall-cfg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function local(text: string): string {
  const f = join(dir, `local-${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}
function refused(t: T, text: string, key: string, what: RegExp): void {
  const f = local(text);
  const e = thrown(() => loadConfig({ configFile: f }));
  t.ok(e instanceof ConfigError, `${key}: a ConfigError`);
  const ce = e as ConfigError;
  t.equal(ce.code, 'SIPWALL_ERR_CONFIG');
  t.equal(ce.file, f, 'names the admin file');
  t.equal(ce.key, key, `names the key ${key}`);
  t.match(ce.message, what);
}
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

t.test('the shipped defaults load on their own and are valid', async (t) => {
  const { config, files, warnings } = loadConfig({ configFile: null });
  t.same(files, [DEFAULT_RULES_FILE]);
  t.equal(config.rateLimits.register.limit, 20);
  t.equal(config.rateLimits.register.windowSeconds, 10);
  t.equal(config.rateLimits.invite.limit, 20);
  t.equal(config.rateLimits.invite.windowSeconds, 5);
  t.equal(config.strict, false, 'strict mode is off by default');
  t.ok(config.userAgents['friendly-scanner']?.enabled);
  t.equal(config.userAgents['sipsak']?.enabled, false, 'sipsak ships opt-in');
  t.equal(config.userAgents['portsip-voip-sdk']?.enabled, false, 'PortSIP ships opt-in');
  for (const ua of Object.values(config.userAgents)) {
    t.notMatch(ua.match, /eyebeam|zoiper|asterisk pbx/i, 'no real phone or PBX UA is a default');
    t.ok(ua.note.length > 10, `${ua.match} has a false-positive note`);
  }
  t.match(warnings.join('\n'), /no secretHosts/);
});

t.test('rate limit defaults are no looser than the issue demands', async (t) => {
  const { config } = loadConfig({ configFile: null });
  t.ok(config.rateLimits.register.limit / config.rateLimits.register.windowSeconds <= 2);
  t.ok(config.rateLimits.invite.limit / config.rateLimits.invite.windowSeconds <= 4);
});

t.test('the admin file overrides key by key', async (t) => {
  const f = local(`
secretHosts: [secret-7f3a.pbx.example.com]
rateLimits:
  register:
    limit: 5
userAgents:
  sipsak:
    enabled: true
  my-scanner:
    match: EvilDialer
fingerprints:
  to-host-test:
    field: toHost
    regex: '^sip-test[0-9]+\\.invalid$'
`);
  const { config, files } = loadConfig({ configFile: f });
  t.same(files, [DEFAULT_RULES_FILE, f]);
  t.same(config.secretHosts, ['secret-7f3a.pbx.example.com']);
  t.equal(config.rateLimits.register.limit, 5, 'the key set locally changes');
  t.equal(config.rateLimits.register.windowSeconds, 10, 'its sibling keeps the default');
  t.equal(config.rateLimits.invite.limit, 20, 'other maps keep the defaults');
  t.equal(config.userAgents['sipsak']?.enabled, true, 'an opt-in rule is switched on');
  t.equal(config.userAgents['sipsak']?.match, 'sipsak', 'keeping its shipped match');
  t.equal(config.userAgents['my-scanner']?.match, 'EvilDialer', 'a local rule is added');
  t.ok(config.userAgents['friendly-scanner'], 'shipped rules stay');
});

t.test('hostile or broken files are refused with file, key and reason', async (t) => {
  refused(t, 'rateLimit:\n  register: 3\n', 'rateLimit', /unknown key/);
  refused(t, 'rateLimits:\n  register:\n    limit: -5\n', 'rateLimits.register.limit', /between 1 and/);
  refused(t, 'rateLimits:\n  invite:\n    windowSeconds: 0.5\n', 'rateLimits.invite.windowSeconds', /whole number/);
  refused(t, 'trusted: [10.0.0.0/33]\n', 'trusted[0]', /not a valid/);
  refused(t, 'blocked: ["192.168.1.300"]\n', 'blocked[0]', /not a valid/);
  refused(t, 'trusted: 10.0.0.0/8\n', 'trusted', /must be a list/);
  refused(t, 'secretHosts: ["bad host!"]\n', 'secretHosts[0]', /host name/);
  refused(t, 'strict: yes please\n', 'strict', /true or false/);
  refused(t, 'policy:\n  nonSip: reject\n', 'policy.nonSip', /accept, drop/);
  refused(t, 'fingerprints:\n  evil:\n    field: userAgent\n    regex: "^(a+)+$"\n', 'fingerprints.evil.regex', /backtrack/);
  refused(t, 'fingerprints:\n  evil:\n    field: userAgent\n    regex: "(a|a)*b"\n', 'fingerprints.evil.regex', /backtrack/);
  refused(t, 'fingerprints:\n  bad:\n    field: userAgent\n    regex: "([a-z"\n', 'fingerprints.bad.regex', /not a valid regular expression/);
  refused(t, 'fingerprints:\n  two:\n    field: userAgent\n    contains: a\n    equals: b\n', 'fingerprints.two', /exactly one/);
  refused(t, 'fingerprints:\n  nofield:\n    contains: abc\n', 'fingerprints.nofield.field', /required/);
  refused(t, 'userAgents:\n  Bad_Id:\n    match: something\n', 'userAgents.Bad_Id', /rule id/);
  refused(t, 'userAgents:\n  new-rule:\n    enabled: true\n', 'userAgents.new-rule.match', /required/);
  refused(t, 'userAgents:\n  short:\n    match: ab\n', 'userAgents.short.match', /at least 3/);
  refused(t, 'bans:\n  maxSeconds: 10\n', 'bans.maxSeconds', /at least bans.baseSeconds/);
  // The admin set the other key of the pair: the message names the admin's file and key, not the shipped defaults.
  refused(t, 'bans:\n  baseSeconds: 700000\n', 'bans.baseSeconds', /must be at most bans.maxSeconds \(604800\)/);
  refused(t, 'inline:\n  trustMark: 0x200000\n', 'inline.trustMark', /shares bits with inline.watchMark/);
  // A dotted key (the README's notation) is the admin's unknown key, quoted, with the nested form to write.
  refused(t, 'rateLimits.register.limit: 5\n', '"rateLimits.register.limit"', /unknown key .*write it nested, as rateLimits: \{register: \{limit: \.\.\.\}\}/);
  refused(t, 'bans:\n  base.seconds: 5\n', 'bans."base.seconds"', /unknown key/);
  refused(t, '"secretHosts ": []\n', '"secretHosts "', /unknown key/);
  refused(t, '"": 1\n', '""', /unknown key/);
  refused(t, '__proto__:\n  polluted: true\n', '__proto__', /unknown key/);
  refused(t, 'bans:\n  __proto__:\n    x: 1\n', 'bans.__proto__', /unknown key/);
  refused(t, 'strict: true\n', 'strict', /secretHosts/);
  refused(t, 'maxTrackedSources: 20000000\n', 'maxTrackedSources', /between 1024 and 16000000/);
  refused(t, 'inline:\n  hotMaxEntries: 2000000\n', 'inline.hotMaxEntries', /between 1024 and 1048576/);
  refused(t, 'blocked: ["::ffff:192.0.2.1"]\n', 'blocked[0]', /IPv4-mapped.*write 192\.0\.2\.1 instead/);
  refused(t, 'trusted: ["::ffff:198.51.100.0/120"]\n', 'trusted[0]', /IPv4-mapped.*write 198\.51\.100\.0\/24 instead/);
  refused(t, 'inline:\n  trustMark: 0x200000\n  watchMark: 0x200000\n', 'inline.watchMark', /shares bits with inline.trustMark/);
  refused(t, 'stateFile: /var/lib/sipwall/\n', 'stateFile', /absolute path to a file/);
  refused(t, 'control:\n  socket: /run/sipwall/\n', 'control.socket', /absolute path to a file/);
  t.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
});

t.test('YAML-level problems are refused naming the file', async (t) => {
  for (const [text, what] of [
    ['strict: true\nstrict: false\n', /invalid YAML.*(unique|duplicate)/i],
    ['- a\n- b\n', /top level/],
    ['rateLimits: [unclosed\n', /invalid YAML/],
    // Each of these loaded before, read otherwise than written: an unknown tag
    // dropped, YAML 1.1's "yes" taken for true, a list key turned into text.
    ['trusted: !whatever [10.0.0.1]\n', /invalid YAML: line 1: Unresolved tag: !whatever/],
    ['%YAML 1.1\n---\nstrict: yes\nsecretHosts: [a.example.com]\n', /a %YAML directive \(version 1\.1\)/],
    ['%FOO bar\n---\nstrict: false\n', /invalid YAML: line 1: Unknown directive %FOO/],
    ['? [a, b]\n: 1\n', /a key that is a list or a map/],
    ['a: &a [1,2]\nb: [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n', /invalid YAML|alias/i],
  ] as const) {
    const f = local(text);
    const e = thrown(() => loadConfig({ configFile: f }));
    t.ok(e instanceof ConfigError && e.file === f, `refused: ${text.slice(0, 20)}`);
    t.match((e as Error).message, what);
  }
  t.match(thrown(() => loadConfig({ configFile: join(dir, 'missing.yaml') })), { code: 'SIPWALL_ERR_CONFIG', message: /no such file/ });
  t.match(thrown(() => loadConfig({ configFile: dir })), { code: 'SIPWALL_ERR_CONFIG', message: /not a regular file/ });
  const f = local('');
  t.equal(loadConfig({ configFile: f }).config.strict, false, 'an empty local file means defaults');
});

t.test('a CIDR with host bits set loads with a warning', async (t) => {
  const f = local('trusted: ["10.1.2.3/8"]\n');
  const { warnings } = loadConfig({ configFile: f });
  t.match(warnings.join('\n'), /host bits/);
});

t.test('trusting every address loads with a warning', async (t) => {
  const f = local('trusted: ["0.0.0.0/0", "10.0.0.0/8", "::/0"]\n');
  const { warnings } = loadConfig({ configFile: f });
  t.match(warnings.join('\n'), /trusted\[0\]: 0\.0\.0\.0\/0 trusts every IPv4 source/);
  t.match(warnings.join('\n'), /trusted\[2\]: ::\/0 trusts every IPv6 source/);
  t.notMatch(warnings.join('\n'), /trusted\[1\]/);
  t.same(loadConfig({ configFile: local('blocked: ["64:ff9b::c000:201", "::ffff:0:0/80", "::1"]\n') }).config.blocked.length, 3, 'a NAT64 address or a wider network is not a mapped address');
  t.match(loadConfig({ configFile: local('blocked: ["10.0.0.0/8", "0.0.0.0/0"]\n') }).warnings.join('\n'), /blocked\[1\]: 0\.0\.0\.0\/0 blocks every IPv4 source: no SIP reaches the PBX over IPv4, trusted sources included/);
});

t.test('an infinite number is named as such, not as null', async (t) => {
  refused(t, 'maxTrackedSources: .inf\n', 'maxTrackedSources', /must be a number, got number Infinity/);
  refused(t, 'bans:\n  baseSeconds: 1e400\n', 'bans.baseSeconds', /got number Infinity/);
});

t.test('every key of the schema is documented in rules/README.md', async (t) => {
  const doc = readFileSync(join(process.cwd(), 'rules', 'README.md'), 'utf8');
  const walk = (spec: unknown, path: string): void => {
    const s = spec as { t: string; fields?: Record<string, unknown>; of?: unknown };
    if (s.t === 'object' && s.fields) {
      for (const [k, sub] of Object.entries(s.fields)) {
        const p = path === '' ? k : `${path}.${k}`;
        t.ok(doc.includes(`\`${p}\``), `rules/README.md documents \`${p}\``);
        walk(sub, p);
      }
    }
    if (s.t === 'map') walk(s.of, `${path}.<id>`);
    if (s.t === 'fingerprint') walk(FINGERPRINT, path);
  };
  walk(SCHEMA, '');
});

t.test('the default admin file: absent means defaults alone; there but unreadable is an error, never silence', async (t) => {
  const d = mkdtempSync(join(dir, 'etc-'));
  const at = join(d, 'sipwall.yaml');
  t.same(loadConfig({ localDefaultFile: at }).files, [DEFAULT_RULES_FILE], 'no file: the shipped defaults');
  writeFileSync(at, 'secretHosts: [secret.example.com]\n');
  t.same(loadConfig({ localDefaultFile: at }).config.secretHosts, ['secret.example.com'], 'a file: read');
  rmSync(at);
  symlinkSync(join(d, 'on-an-unmounted-volume.yaml'), at);
  let e = thrown(() => loadConfig({ localDefaultFile: at }));
  t.ok(e instanceof ConfigError, 'a symlink to a file that is gone: refused');
  t.equal((e as ConfigError).file, at);
  t.match((e as ConfigError).message, /no such file/);
  rmSync(at);
  mkdirSync(at);
  e = thrown(() => loadConfig({ localDefaultFile: at }));
  t.ok(e instanceof ConfigError, 'a directory: refused');
  t.match((e as ConfigError).message, /not a regular file/);
});

t.test('the regex proofs of one file share a time budget', async (t) => {
  // Each of these takes recheck about half a second here: 1024 of them took minutes.
  const fingerprints: Record<string, unknown> = {};
  for (let i = 1; i <= 6; i++) fingerprints[`r${i}`] = { field: 'userAgent', regex: `^a{1,200}b${i}$` };
  const defaults = loadConfig({ configFile: null }).config as unknown as Record<string, unknown>;
  const cfg = { ...structuredClone(defaults), fingerprints };
  const ctx = { fileFor: () => 'w.yaml', warnings: [], regexTotalMs: 300 };
  const started = Date.now();
  const e = thrown(() => validateConfig(cfg, ctx));
  t.match(e, { code: 'SIPWALL_ERR_CONFIG', message: /fingerprints\.r\d\.regex: not checked: the regexes of this file took the 0\.3 s/ });
  t.ok(Date.now() - started < 5000, `refused in ${Date.now() - started} ms, not after every proof`);
  t.equal(thrown(() => validateConfig({ ...structuredClone(defaults), fingerprints }, { fileFor: () => 'w.yaml', warnings: [] })), undefined, 'the same regexes pass with the full budget');
});
