// metrics.listen: parsing, and validation of the config keys.

import t from 'tap';
import { ConfigError } from '../../src/errors.js';
import { formatListenAddress, isLoopback, parseListenAddress } from '../../src/metrics/listen-address.js';
import { loadConfig } from '../../src/rules/load-config.js';
import { configWith } from '../helpers/engine-fixtures.js';

t.test('IPv4 and bracketed IPv6 literals with a port', async (t) => {
  t.same(parseListenAddress('127.0.0.1:9467'), { host: '127.0.0.1', port: 9467 });
  t.same(parseListenAddress('0.0.0.0:1'), { host: '0.0.0.0', port: 1 });
  t.same(parseListenAddress('[::1]:9467'), { host: '::1', port: 9467 });
  t.same(parseListenAddress('[2001:db8::5]:65535'), { host: '2001:db8::5', port: 65535 });
  for (const bad of ['localhost:9467', 'metrics.example.com:9467', '127.0.0.1', '127.0.0.1:', ':9467', '127.0.0.1:0', '127.0.0.1:65536',
    '127.0.0.1:99999', '256.0.0.1:9467', '::1:9467', '[127.0.0.1]:9467', '[::1]', '[::1]:', ' 127.0.0.1:9467', '127.0.0.1:9467/metrics', '[fe80::1%eth0]:9467']) {
    t.equal(parseListenAddress(bad), null, `refused: ${JSON.stringify(bad)}`);
  }
  t.equal(formatListenAddress({ host: '::1', port: 9467 }), '[::1]:9467');
  t.equal(formatListenAddress({ host: '127.0.0.1', port: 9467 }), '127.0.0.1:9467');
  t.ok(isLoopback(parseListenAddress('127.0.0.1:9467')!));
  t.ok(isLoopback(parseListenAddress('[::1]:9467')!));
  t.notOk(isLoopback(parseListenAddress('0.0.0.0:9467')!));
});

t.test('the shipped default: enabled, on loopback', async (t) => {
  const { config } = loadConfig({ configFile: null });
  t.same(config.metrics, { enabled: true, listen: '127.0.0.1:9467' });
  t.ok(isLoopback(parseListenAddress(config.metrics.listen)!));
});

t.test('metrics keys are validated like the others', async (t) => {
  t.equal(configWith({ metrics: { listen: '[::1]:9100' } }).metrics.enabled, true, 'one key overrides, the other keeps its default');
  const refused = (over: Record<string, unknown>, key: string, what: RegExp): void => {
    let err: unknown;
    try {
      configWith(over);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof ConfigError, `${JSON.stringify(over)}: refused`);
    t.equal((err as ConfigError).key, key);
    t.match((err as Error).message, what);
  };
  refused({ metrics: { listen: 'localhost:9467' } }, 'metrics.listen', /IP address and a port/);
  refused({ metrics: { listen: '127.0.0.1:70000' } }, 'metrics.listen', /IP address and a port/);
  refused({ metrics: { listen: 9467 } }, 'metrics.listen', /must be text/);
  refused({ metrics: { enabled: 'yes' } }, 'metrics.enabled', /true or false/);
  refused({ metrics: { port: 9467 } }, 'metrics.port', /unknown key/);
});
