// The log: JSON lines in a fixed shape, and a rate limit that holds lines
// back under a flood and says how many it held.

import t from 'tap';
import { Logger } from '../../src/cli/logger.js';

t.test('one JSON line per event, with level, ISO time and the fields', async (t) => {
  const lines: string[] = [];
  const log = new Logger({ write: (l) => lines.push(l), now: () => Date.UTC(2026, 10, 21, 17) });
  log.warn('ban', { source: '198.51.100.7', seconds: 3600, reason: 'scanner-ua' });
  t.equal(lines.length, 1);
  t.ok(lines[0]!.endsWith('\n'), 'newline-terminated');
  t.same(JSON.parse(lines[0]!), { level: 'warn', time: '2026-11-21T17:00:00.000Z', event: 'ban', source: '198.51.100.7', seconds: 3600, reason: 'scanner-ua' });
});

t.test('a flood is capped; errors and lifecycle lines always pass; held lines are counted', async (t) => {
  const lines: string[] = [];
  let now = 0;
  const log = new Logger({ write: (l) => lines.push(l), now: () => now, rate: 10, burst: 20 });
  for (let i = 0; i < 1000; i++) log.warn('ban', { n: i });
  t.equal(lines.length, 20, 'only the burst gets through at once');
  t.equal(log.held, 980);
  log.error('verdict-error', { message: 'x' });
  t.equal((JSON.parse(lines.at(-1)!) as Record<string, unknown>)['suppressed'], 980, 'the next line out says how many were held back');
  t.equal(log.held, 0);
  log.lifecycle('stop');
  t.equal(lines.length, 22, 'errors and lifecycle lines are never held');
  log.warn('ban', { n: 'held' });
  t.equal(lines.length, 22, 'the bucket is still empty');
  now += 1000; // one second refills ten tokens
  log.warn('ban', { n: 'next' });
  t.equal(lines.length, 23, 'a second later lines pass again');
  t.equal((JSON.parse(lines.at(-1)!) as Record<string, unknown>)['suppressed'], 1);
});

t.test('a wall clock stepping back does not hold ban lines until it catches up', async (t) => {
  const lines: string[] = [];
  let now = Date.UTC(2026, 10, 21, 17);
  const log = new Logger({ write: (l) => lines.push(l), now: () => now, rate: 10, burst: 20 });
  log.warn('ban', { n: 0 });
  now -= 3600_000; // NTP steps the clock back an hour
  for (let i = 1; i <= 60; i++) {
    now += 60_000; // then a ban a minute
    log.warn('ban', { n: i });
  }
  t.equal(lines.length, 61, 'every ban line is written');
  t.equal(log.held, 0);
});
