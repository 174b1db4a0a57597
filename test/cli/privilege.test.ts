// What needs privilege and what does not: `check` and `rules --print` run as
// any user; `start` and `cleanup` refuse without root or CAP_NET_ADMIN, with
// one clear line, before anything on the host is changed.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { CORPUS_DIR, ROOT } from '../helpers/engine-fixtures.js';
import { runCliIsolated } from '../helpers/netns.js';

const BIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const CONFIG = join(ROOT, 'test', 'fixtures', 'config', 'corpus.yaml');

/** Runs sipwall as user nobody with no capabilities, in a fresh network namespace so nothing of the host can be touched even if a check failed. */
function asNobody(args: string[]) {
  // `env -i`: tap's process tracking injects NODE_OPTIONS into children, preloading
  // its own modules, which user nobody cannot run; a clean environment avoids that.
  return spawnSync(
    'env',
    ['-i', `PATH=${process.env['PATH'] ?? '/usr/bin:/bin'}`, 'unshare', '--net', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, BIN, ...args],
    { encoding: 'utf8', timeout: 60_000 },
  );
}

t.test('check and rules --print need no privilege', async (t) => {
  const r = asNobody(['check', '--config', CONFIG, '--summary', join(CORPUS_DIR, 'svmap.pcap')]);
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(r.stdout.trim()), { summary: { drop: 1 } });
  const p = asNobody(['rules', '--print', '--defaults']);
  t.equal(p.status, 0, p.stderr);
  t.match(p.stdout, /-j NFQUEUE --queue-num 5060 --queue-bypass/);
});

t.test('start and cleanup refuse without privilege, before changing anything', async (t) => {
  for (const cmd of ['start', 'cleanup']) {
    const r = asNobody([cmd, '--defaults']);
    t.equal(r.status, 77, `${cmd} exits 77 (EX_NOPERM)`);
    t.match(r.stderr, /root|CAP_NET_ADMIN/, 'says what is missing');
    t.equal(r.stderr.trim().split('\n').length, 1, `in one line: ${r.stderr}`);
    t.equal(r.stdout, '', 'and did nothing it would log');
  }
});

t.test('start refuses a bad rules file before checking anything else', async (t) => {
  // In a network namespace of its own and bounded: were the check ever to break, start must not go inline on this host.
  const isolated = (args: string[]) => runCliIsolated(BIN, args);
  const r = isolated(['start', '--config', join(ROOT, 'missing.yaml')]);
  t.equal(r.status, 78);
  t.match(r.stderr, /missing\.yaml: no such file/);
  const u = isolated(['start', '--bogus']);
  t.equal(u.status, 64);
  t.match(u.stderr, /Unknown option '--bogus'/);
});
