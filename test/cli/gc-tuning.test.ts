// The memory reducer is off only when node is started so (src/cli/gc-tuning.ts):
// how sipwall tells, and the places that start it that way.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { gcWarning, memoryReducerOff, NO_MEMORY_REDUCER } from '../../src/cli/gc-tuning.js';

const ROOT = process.cwd();
const TUNING = join(ROOT, 'dist', 'src', 'cli', 'gc-tuning.js');

t.test('memoryReducerOff reads node options, the last mention winning', async (t) => {
  t.equal(memoryReducerOff([]), false);
  t.equal(memoryReducerOff(['--no-memory-reducer']), true);
  t.equal(memoryReducerOff(['--no_memory_reducer']), true);
  t.equal(memoryReducerOff(['--no-memory-reducer', '--memory-reducer']), false);
  t.equal(memoryReducerOff(['--memory-reducer', '--no-memory-reducer', '--trace-gc']), true);
  t.equal(memoryReducerOff(['--no-memory-reducer-for-small-heaps']), false, 'another flag');
  t.equal(gcWarning(['--no-memory-reducer']), null);
  t.match(gcWarning([]), /without --no-memory-reducer.*10-20 ms/);
});

t.test('a real node process: the flag on the command line is seen, NODE_OPTIONS cannot carry it', async (t) => {
  const probe = `import(${JSON.stringify(TUNING)}).then((m) => console.log(m.memoryReducerOff()))`;
  const on = spawnSync(process.execPath, [NO_MEMORY_REDUCER, '-e', probe], { encoding: 'utf8' });
  t.equal(on.stdout.trim(), 'true', on.stderr);
  const off = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  t.equal(off.stdout.trim(), 'false', off.stderr);
  // Why the flag lives on command lines: node refuses it in NODE_OPTIONS.
  const env = spawnSync(process.execPath, ['-e', '0'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: NO_MEMORY_REDUCER } });
  t.not(env.status, 0);
  t.match(env.stderr, /not allowed in NODE_OPTIONS/);
});

t.test('the sipwall command, the image and the README start node with the flag', async (t) => {
  const main = readFileSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'utf8');
  t.equal(main.split('\n')[0], '#!/usr/bin/env -S node --no-memory-reducer', 'the bin shebang');
  const docker = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  t.match(docker, /ENTRYPOINT \["node", "--no-memory-reducer", /);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const inline = readme.split('\n').find((l) => l.includes('main.js start --defaults'));
  t.match(inline, /node --no-memory-reducer dist\/src\/cli\/main\.js start --defaults/, 'the first-screen command');
});

t.test('collectBeforeInline runs a full collection in a process started without --expose-gc', async (t) => {
  const probe = `import(${JSON.stringify(TUNING)}).then((m) => { console.log('before'); m.collectBeforeInline(); console.log('after'); })`;
  const r = spawnSync(process.execPath, ['--trace-gc', '-e', probe], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const between = lines.slice(lines.indexOf('before'), lines.indexOf('after'));
  t.ok(lines.includes('before') && lines.includes('after'), r.stdout);
  t.ok(between.some((l) => /Mark-Compact/.test(l)), `a Mark-Compact between the two marks:\n${between.join('\n')}`);
});
