// The error table's codes as the CLI prints them and the logs record them.

import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  ConfigError, ControlError, errorCode, errorLine, EXIT_CODES, InputError, KernelError, NativeError, PermissionError, QueueError, SipwallError,
  UsageError,
} from '../src/errors.js';

t.test('errorCode: the SIPWALL_ERR_* code, else the system errno code, else unknown', async (t) => {
  t.equal(errorCode(new QueueError('queue 0 is bound')), 'SIPWALL_ERR_QUEUE');
  t.equal(errorCode(new ConfigError('/etc/sipwall/sipwall.yaml', 'strict', 'must be true or false')), 'SIPWALL_ERR_CONFIG');
  let enoent: unknown;
  try {
    readFileSync('/nonexistent/sipwall/state.json');
  } catch (e) {
    enoent = e;
  }
  t.equal(errorCode(enoent), 'ENOENT', 'a failed system call keeps its errno name');
  t.equal(errorCode(new Error('a bug')), 'SIPWALL_ERR_UNKNOWN');
  t.equal(errorCode(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' })), 'SIPWALL_ERR_UNKNOWN', "Node's own ERR_* codes name a bug of ours, not the host");
  t.equal(errorCode(Object.assign(new Error('x'), { code: 42 })), 'SIPWALL_ERR_UNKNOWN');
  for (const v of [null, undefined, 'text', 0]) t.equal(errorCode(v), 'SIPWALL_ERR_UNKNOWN', `${String(v)} thrown`);
});

t.test('errorLine: one line, prefixed with sipwall, ending in the code', async (t) => {
  t.equal(errorLine(new ControlError('no sipwall is running')), 'sipwall: no sipwall is running [SIPWALL_ERR_CONTROL]');
  t.equal(errorLine(new UsageError('sipwall ban: bad duration "99y"')), 'sipwall ban: bad duration "99y" [SIPWALL_ERR_USAGE]');
});

t.test('each error class exits with the status the README documents', async (t) => {
  const cases: Array<[SipwallError, number]> = [
    [new UsageError('x'), 64],
    [new InputError('f', 'x'), 65],
    [new ControlError('x'), 69],
    [new QueueError('x'), 69],
    [new SipwallError('x'), 70],
    [new KernelError('x'), 71],
    [new NativeError('x'), 71],
    [new PermissionError('x'), 77],
    [new ConfigError('f', 'k', 'x'), 78],
  ];
  for (const [e, status] of cases) t.equal(EXIT_CODES[e.code], status, e.code);
});
