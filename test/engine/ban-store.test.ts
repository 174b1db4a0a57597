import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BanStore } from '../../src/engine/ban-store.js';
import { BanTable } from '../../src/engine/ban-table.js';
import { R_RATE_REGISTER, R_SCANNER_UA } from '../../src/engine/reasons.js';
import { sourceKeyFromText } from '../../src/engine/source-key.js';

const POLICY = { baseSeconds: 100, factor: 4, maxSeconds: 10_000, forgetAfterSeconds: 1000, maxEntries: 1024 };
const made: string[] = [];
const dir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'sipwall-bans-'));
  made.push(d);
  return d;
};
t.teardown(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
const key = (s: string) => sourceKeyFromText(s, 64)!;

t.test('bans survive a save and a restore; expired ones are dropped', async (t) => {
  const file = join(dir(), 'bans.json');
  let now = 1_000_000;
  const a = new BanTable(POLICY);
  const store = new BanStore({ file, v6PrefixLength: 64, now: () => now });
  t.same(store.restore(a).restored, [], 'no file yet: empty');
  a.ban(key('198.51.100.7'), now, R_SCANNER_UA, 'friendly-scanner');
  a.ban(key('2001:db8:5:6::/64'), now, R_RATE_REGISTER, 'register');
  a.ban(key('198.51.100.8'), now - 99_000, R_SCANNER_UA, 'sipvicious'); // 1 s left
  store.save();
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { bans: unknown[] };
  t.equal(saved.bans.length, 3);

  now += 5000;
  const b = new BanTable(POLICY);
  const res = new BanStore({ file, v6PrefixLength: 64, now: () => now }).restore(b);
  t.same(res.restored.map((r) => r.source).sort(), ['198.51.100.7', '2001:db8:5:6::/64']);
  t.equal(res.expired, 1, 'the one that ran out meanwhile is dropped');
  t.equal(res.restored.find((r) => r.source === '198.51.100.7')?.secondsLeft, 95);
  const rec = b.active(key('198.51.100.7'), now);
  t.match(rec, { offences: 1, ruleId: 'friendly-scanner', reason: R_SCANNER_UA });
  t.ok(b.active(key('2001:db8:5:6::1234'), now), 'the IPv6 /64 ban is back (any address in it)');
  t.equal(b.ban(key('198.51.100.7'), now + 200_000, R_SCANNER_UA, 'x'), 400, 'escalation history survives too');
});

t.test('a corrupt or truncated file is moved aside with a warning, never a crash', async (t) => {
  for (const bad of ['{"format":"sipwall-bans","version":1,"bans":[{"source":"1.2.3.4","un', 'not json at all', '{"format":"other","version":1,"bans":[]}', '[]']) {
    const d = dir();
    const file = join(d, 'bans.json');
    writeFileSync(file, bad);
    const res = new BanStore({ file, v6PrefixLength: 64 }).restore(new BanTable(POLICY));
    t.match(res.warning, /corrupt or truncated/);
    t.ok(res.movedAside !== null && readdirSync(d).some((f) => f.startsWith('bans.json.corrupt-')), 'moved aside, kept for the admin');
    t.same(res.restored, []);
  }
});

t.test('bad entries are skipped, good ones kept', async (t) => {
  const file = join(dir(), 'bans.json');
  const now = 5_000_000;
  const good = { source: '192.0.2.1', until: now + 10_000, since: now, offences: 1, reason: 'scanner-ua', rule: 'x', hits: 0 };
  writeFileSync(file, JSON.stringify({ format: 'sipwall-bans', version: 1, bans: [
    good,
    { ...good, source: 'not-an-ip' },
    { ...good, source: '10.0.0.0/8' }, // not how sources are keyed
    { ...good, source: '192.0.2.2', until: 'soon' },
    { ...good, source: '192.0.2.3', reason: 'made-up' },
  ] }));
  const res = new BanStore({ file, v6PrefixLength: 64, now: () => now }).restore(new BanTable(POLICY));
  t.equal(res.restored.length, 1);
  t.equal(res.skipped, 4);
});

t.test('changes are batched: many bans, one save per interval; flush saves at once', async (t) => {
  const file = join(dir(), 'bans.json');
  const table = new BanTable(POLICY);
  const store = new BanStore({ file, v6PrefixLength: 64, intervalMs: 100 });
  store.restore(table);
  for (let i = 0; i < 500; i++) {
    table.ban(key(`10.0.${i >> 8}.${i & 255}`), Date.now(), R_SCANNER_UA, 'x');
    store.changed();
  }
  t.equal(store.saves, 0, 'nothing written synchronously on the packet path');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(store.saves, 1, 'one save for 500 changes');
  t.equal((JSON.parse(readFileSync(file, 'utf8')) as { bans: unknown[] }).bans.length, 500);
  table.ban(key('10.9.9.9'), Date.now(), R_SCANNER_UA, 'x');
  store.changed();
  store.flush();
  t.equal(store.saves, 2, 'flush writes the pending change now');
  t.equal(readdirSync(join(file, '..')).filter((f) => f.includes('.tmp-')).length, 0, 'no temp file left behind');
});

t.test('a save that cannot write reports the error and does not throw', async (t) => {
  const errors: Error[] = [];
  const store = new BanStore({ file: '/nonexistent-dir/bans.json', v6PrefixLength: 64, onError: (e) => errors.push(e) });
  store.restore(new BanTable(POLICY));
  store.flush();
  t.equal(errors.length, 1);
  t.match(errors[0]?.message, /ENOENT/);
});
