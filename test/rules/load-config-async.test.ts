// Reload loads the rules in a worker: same result as loadConfig, same
// errors, and the event loop (which answers the queue) keeps turning.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/rules/load-config.js';
import { loadConfigAsync } from '../../src/rules/load-config-async.js';

const dir = mkdtempSync(join(tmpdir(), 'sipwall-async-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

// An admin regex makes validation run recheck, which takes a while: the case where blocking would hurt.
const withRegex = file('regex.yaml', `secretHosts: [pbx.example.com]
fingerprints:
  long-ua:
    field: userAgent
    regex: '^(?:[a-z]+-){3}[0-9]{2,}$'
`);

t.test('same configuration as the synchronous loader', async (t) => {
  const a = await loadConfigAsync({ configFile: withRegex });
  const b = loadConfig({ configFile: withRegex });
  t.same(a.config, b.config);
  t.same(a.files, b.files);
});

t.test('a bad file is refused with the same message and code', async (t) => {
  const bad = file('bad.yaml', 'rateLimits:\n  register:\n    limit: -1\n');
  await t.rejects(loadConfigAsync({ configFile: bad }), { code: 'SIPWALL_ERR_CONFIG', message: /bad\.yaml: rateLimits\.register\.limit: must be between/ });
  await t.rejects(loadConfigAsync({ configFile: join(dir, 'missing.yaml') }), { code: 'SIPWALL_ERR_CONFIG', message: /no such file/ });
});

t.test('the event loop keeps turning while the rules load', async (t) => {
  let ticks = 0;
  let running = true;
  const spin = (): void => {
    ticks++;
    if (running) setImmediate(spin);
  };
  setImmediate(spin);
  await loadConfigAsync({ configFile: withRegex });
  running = false;
  t.ok(ticks > 10, `${ticks} event-loop turns during the load`);
});
