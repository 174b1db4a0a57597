import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BanStore } from '../../src/engine/ban-store.js';
import { BanTable } from '../../src/engine/ban-table.js';
import { R_RATE_REGISTER, R_SCANNER_UA } from '../../src/engine/reasons.js';
import { sourceKeyFromText, sourceKeyText } from '../../src/engine/source-key.js';

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
  t.equal(res.remembered, 1, 'the one that ran out meanwhile is back as history only');
  t.equal(b.active(key('198.51.100.8'), now), null, 'not banned');
  t.equal(res.expired, 0);
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

t.test('a restart does not forgive a repeat offender: ended bans are kept while remembered', async (t) => {
  const file = join(dir(), 'bans.json');
  let now = 1_000_000;
  const store = (): BanStore => new BanStore({ file, v6PrefixLength: 64, now: () => now });
  let table = new BanTable(POLICY);
  let st = store();
  st.restore(table);
  t.equal(table.ban(key('203.0.113.9'), now, R_SCANNER_UA, 'x'), 100, 'first offence: 100 s');
  now += 200_000; // the ban ran out 100 s ago; remembered for 1000 s
  st.save();
  table = new BanTable(POLICY);
  st = store();
  const res = st.restore(table);
  t.equal(res.remembered, 1);
  t.same(res.restored, [], 'nothing to put back in the kernel');
  t.equal(table.ban(key('203.0.113.9'), now, R_SCANNER_UA, 'x'), 400, 'second offence after the restart: escalated');
  now += 400_000 + 1_000_000 + 1; // past the second ban and its memory
  st.save();
  t.equal((JSON.parse(readFileSync(file, 'utf8')) as { bans: unknown[] }).bans.length, 0, 'forgotten: not saved');
});

t.test('a hostile or foreign file: every entry judged alone, bans capped, another version moved aside', async (t) => {
  const file = join(dir(), 'bans.json');
  const now = 5_000_000;
  const good = { source: '192.0.2.1', until: now + 10_000, since: now, offences: 1, reason: 'scanner-ua', rule: 'x', hits: 0 };
  writeFileSync(file, JSON.stringify({ format: 'sipwall-bans', version: 1, bans: [
    null, 7, 'x', [], { ...good, offences: null }, { ...good, hits: -1 },
    good, { ...good, until: now + 99_000 }, // a repeat of the same source: the later counts (see the test of a save under bans)
    { ...good, source: '192.0.2.5', until: 1e300, offences: 1e9 },
  ] }));
  const table = new BanTable(POLICY);
  const res = new BanStore({ file, v6PrefixLength: 64, now: () => now }).restore(table);
  t.equal(res.skipped, 7, 'non-objects, bad numbers, a repeat');
  t.same(res.restored.map((r) => r.source), ['192.0.2.1', '192.0.2.5']);
  t.equal(res.restored[1]!.secondsLeft, POLICY.maxSeconds, 'a ban from the file is never longer than bans.maxSeconds');
  t.equal(table.peek(key('192.0.2.5'))!.offences, 1000, 'offences capped');
  t.equal(table.peek(key('192.0.2.1'))!.until, now + 99_000);

  const d = dir();
  const v2 = join(d, 'bans.json');
  writeFileSync(v2, JSON.stringify({ format: 'sipwall-bans', version: 2, bans: [] }));
  const r2 = new BanStore({ file: v2, v6PrefixLength: 64 }).restore(new BanTable(POLICY));
  t.match(r2.warning, /another version of sipwall \(format version 2, this one reads 1\)/);
  t.ok(readdirSync(d).some((f) => f.startsWith('bans.json.v2-')), 'kept for the admin');
});

/** A store over a table of 20,000 bans, saving 1 ms after a change. */
function large(): { file: string; table: BanTable; store: BanStore; now: number } {
  const file = join(dir(), 'bans.json');
  const table = new BanTable({ ...POLICY, maxEntries: 50_000 });
  const store = new BanStore({ file, v6PrefixLength: 64, intervalMs: 1 });
  store.restore(table);
  const now = Date.now();
  for (let i = 0; i < 20_000; i++) table.ban(key(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`), now, R_SCANNER_UA, 'x');
  return { file, table, store, now };
}

t.test('a save runs in the background: the event loop turns while a large table is written', async (t) => {
  const { file, store } = large();
  let turns = 0;
  const tick = setInterval(() => turns++, 0);
  store.changed();
  await new Promise((r) => setTimeout(r, 5));
  await store.idle();
  clearInterval(tick);
  t.equal(store.saves, 1);
  t.ok(turns >= 3, `timers ran during the save (${turns} turns): it did not hold the thread`);
  t.equal((JSON.parse(readFileSync(file, 'utf8')) as { bans: unknown[] }).bans.length, 20_000);
});

t.test('the save at stop supersedes one in flight: the newest bans win, no temp file is left', async (t) => {
  const { file, table, store, now } = large();
  store.changed();
  await new Promise((r) => setTimeout(r, 5)); // the background save has begun
  table.ban(key('192.0.2.250'), now, R_SCANNER_UA, 'last');
  store.flush();
  await store.idle();
  const bans = (JSON.parse(readFileSync(file, 'utf8')) as { bans: Array<{ source: string }> }).bans;
  t.equal(bans.length, 20_001);
  t.ok(bans.some((b) => b.source === '192.0.2.250'), 'the last ban is in the file');
  t.equal(readdirSync(join(file, '..')).filter((f) => f.includes('.tmp-')).length, 0, 'no temp file left behind');
});

t.test('a source banned again during a background save is restored with its new ban', async (t) => {
  // The walk meets it twice: where it was (the record before the new ban), and at the end.
  const { file, table, store, now } = large();
  const early = key('10.0.0.0'); // the oldest: the first slice writes it
  store.changed();
  // Once the first slice is on disk, the walk has passed it.
  const tmpWritten = (): boolean => readdirSync(join(file, '..')).some((f) => f.includes('.tmp-') && statSync(join(file, '..', f)).size > 1000);
  for (let i = 0; i < 20_000 && !tmpWritten(); i++) await new Promise((r) => setImmediate(r));
  table.ban(early, now + 1, R_RATE_REGISTER, 'register'); // again: a second offence, moved to the end
  await store.idle();
  const listed = (JSON.parse(readFileSync(file, 'utf8')) as { bans: Array<{ source: string; rule: string }> }).bans.filter((b) => b.source === '10.0.0.0');
  t.same(listed.map((b) => b.rule), ['x', 'register'], 'in the file twice: the old record, then the new');
  // As after a crash: no flush at stop rewrote the file.
  const after = new BanTable({ ...POLICY, maxEntries: 50_000 });
  const res = new BanStore({ file, v6PrefixLength: 64 }).restore(after);
  t.match(after.peek(early), { offences: 2, ruleId: 'register' }, 'the new ban, not the one before it');
  t.ok(res.restored.some((r) => r.source === '10.0.0.5'), 'and it is active');
});

t.test('a background save ends under bans faster than it writes, and the next one has them', async (t) => {
  // The walk visits records added after it began: without an end point it
  // chased the end of the table as long as the flood lasted.
  const { file, table, store, now } = large();
  let flooding = true;
  let added = 0;
  const flood = (): void => {
    if (!flooding) return;
    for (let i = 0; i < 8192; i++, added++) table.ban(key(`11.${(added >> 16) & 255}.${(added >> 8) & 255}.${added & 255}`), now, R_SCANNER_UA, 'x');
    store.changed();
    setImmediate(flood);
  };
  store.changed();
  flood();
  const ended = await Promise.race([
    (async () => {
      while (store.saves === 0) await new Promise((r) => setTimeout(r, 5));
      return true;
    })(),
    new Promise<boolean>((r) => setTimeout(() => r(false), 10_000)),
  ]);
  const during = added;
  flooding = false;
  t.ok(ended, `the first save ended while the flood went on (${during} bans added meanwhile)`);
  await store.idle();
  store.flush();
  t.equal((JSON.parse(readFileSync(file, 'utf8')) as { bans: unknown[] }).bans.length, table.size, 'the save at stop has them all');
});

t.test('a short write (disk full) fails the save and leaves the good file alone', async (t) => {
  const d = dir();
  const file = join(d, 'bans.json');
  const now = Date.now();
  const good = JSON.stringify({ format: 'sipwall-bans', version: 1, savedAt: now, bans: [{ source: '192.0.2.1', until: now + 3_600_000, since: now, offences: 1, reason: 'scanner-ua', rule: 'x', hits: 0 }] });
  writeFileSync(file, good);
  // A child with a 4 KiB file size limit (ulimit -f 4) stands in for a full disk: the write comes up short.
  const mod = new URL('../../src/engine/', import.meta.url).href;
  const script = `
    import { BanStore } from '${mod}ban-store.js';
    import { BanTable } from '${mod}ban-table.js';
    import { sourceKeyFromText } from '${mod}source-key.js';
    const table = new BanTable(${JSON.stringify({ ...POLICY, maxEntries: 10_000 })});
    const errors = [];
    const store = new BanStore({ file: ${JSON.stringify(file)}, v6PrefixLength: 64, onError: (e) => errors.push(e.code ?? e.message) });
    store.restore(table);
    for (let i = 0; i < 2000; i++) table.ban(sourceKeyFromText('10.1.' + (i >> 8) + '.' + (i & 255), 64), Date.now(), 1, 'x');
    store.flush();
    console.log(JSON.stringify({ errors, saves: store.saves }));
  `;
  const r = spawnSync('bash', ['-c', 'ulimit -f 4 && exec node --input-type=module -e "$0"', script], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { errors: string[]; saves: number };
  t.same(out.errors, ['EFBIG'], 'the error is reported');
  t.equal(out.saves, 0);
  t.equal(readFileSync(file, 'utf8'), good, 'the good file is untouched');
  t.same(readdirSync(d).filter((f) => f.includes('.tmp-')), [], 'the partial temp file is removed');
});

t.test('temp files of a save cut short by a kill are removed at the next start', async (t) => {
  const d = dir();
  const file = join(d, 'bans.json');
  writeFileSync(`${file}.tmp-4242-7`, '{"format":"sipwall-bans","vers');
  new BanStore({ file, v6PrefixLength: 64 }).restore(new BanTable(POLICY));
  t.same(readdirSync(d), []);
});

t.test('a restart keeps the table\'s recency: when full, the oldest records go, not the newest', async (t) => {
  const file = join(dir(), 'bans.json');
  let now = 1_000_000;
  const policy = { ...POLICY, maxEntries: 1024 };
  const table = new BanTable(policy);
  const store = new BanStore({ file, v6PrefixLength: 64, now: () => now });
  store.restore(table);
  for (let i = 0; i < 1024; i++) table.ban(key(`10.2.${i >> 8}.${i & 255}`), now + i, R_SCANNER_UA, 'x');
  store.save();
  const again = new BanTable(policy);
  new BanStore({ file, v6PrefixLength: 64, now: () => now }).restore(again);
  again.ban(key('192.0.2.77'), now + 2000, R_SCANNER_UA, 'x'); // one more: the table forgets one record
  t.ok(again.peek(key('10.2.3.255')), 'the newest restored record is kept');
  t.equal(again.peek(key('10.2.0.0')), undefined, 'the oldest is the one forgotten');
});

t.test('newest(): the most recent active bans first, at most limit, in one pass', async (t) => {
  const now = 1_000_000;
  const b = new BanTable(POLICY);
  for (let i = 1; i <= 7; i++) b.ban(key(`198.51.100.${i}`), now, R_SCANNER_UA, 'x');
  b.ban(key('198.51.100.3'), now + 1, R_SCANNER_UA, 'again'); // a repeat offender is recent again
  b.ban(key('198.51.100.9'), now - 100_000, R_SCANNER_UA, 'over'); // already ended: not listed
  const src = (l: ReturnType<BanTable['newest']>) => l.map(([k]) => sourceKeyText(k, 64));
  t.same(src(b.newest(now + 2, 3)), ['198.51.100.3', '198.51.100.7', '198.51.100.6']);
  t.same(src(b.newest(now + 2, 100)), ['198.51.100.3', '198.51.100.7', '198.51.100.6', '198.51.100.5', '198.51.100.4', '198.51.100.2', '198.51.100.1']);
  t.same(src(b.newest(now + 2, 7)).length, 7, 'a limit equal to the count');
  t.same(b.newest(now + 2, 0), []);
});
