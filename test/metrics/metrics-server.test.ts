// The /metrics HTTP endpoint on loopback: paths, methods, a port in use, close.

import { request } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import t from 'tap';
import { SipwallError } from '../../src/errors.js';
import { startMetricsServer } from '../../src/metrics/metrics-server.js';
import { createSipwallMetrics } from '../../src/metrics/sipwall-metrics.js';
import { LoopCounters } from '../../src/queue/verdict-loop.js';

function registry(): Registry {
  const counters = new LoopCounters();
  counters.dropped[5] = 3;
  const engine = { rates: { size: 0, evictions: 0 }, bans: { activeCount: () => 0 }, trust: { activeCount: () => 0 }, flows: { size: 0, evicted: 0 } };
  return createSipwallMetrics({ counters, engine, readQueueStats: () => false, kernelQueue: () => null }).registry;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

t.test('GET and HEAD /metrics; 404 elsewhere; 405 for other methods', async (t) => {
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, registry());
  t.teardown(() => srv.close());
  const port = srv.address.port;
  t.ok(port > 0, 'port 0 asks the kernel for a free one');
  t.equal(srv.url, `http://127.0.0.1:${port}/metrics`);

  const get = await call(port, 'GET', '/metrics');
  t.equal(get.status, 200);
  t.match(get.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.match(get.body, /^sipwall_packets_total\{verdict="drop",reason="scanner-ua"\} 3$/m);
  t.equal((await call(port, 'GET', '/metrics?name[]=x')).status, 200, 'a query string is ignored');
  const head = await call(port, 'HEAD', '/metrics');
  t.equal(head.status, 200);
  t.equal(head.body, '');

  for (const p of ['/', '/metrics/', '/metricsx', '/favicon.ico', '/../metrics']) {
    t.equal((await call(port, 'GET', p)).status, 404, `GET ${p}: 404`);
  }
  for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const r = await call(port, m, '/metrics');
    t.equal(r.status, 405, `${m} /metrics: 405`);
    t.equal(r.headers['allow'], 'GET, HEAD');
  }
});

t.test('a failing collector answers 500, and the next scrape works', async (t) => {
  const reg = registry();
  let fail = true;
  new Gauge({
    name: 'test_flaky',
    help: 'fails once',
    registers: [reg],
    collect() {
      if (fail) {
        fail = false;
        throw new Error('boom');
      }
      this.set(1);
    },
  });
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, reg);
  t.teardown(() => srv.close());
  const r = await call(srv.address.port, 'GET', '/metrics');
  t.equal(r.status, 500);
  t.match(r.body, /boom/);
  t.equal((await call(srv.address.port, 'GET', '/metrics')).status, 200);
});

t.test('an address in use, or not of this host: a clear SIPWALL_ERR_CONFIG error', async (t) => {
  const a = await startMetricsServer({ host: '127.0.0.1', port: 0 }, registry());
  t.teardown(() => a.close());
  const taken = await startMetricsServer({ host: '127.0.0.1', port: a.address.port }, registry()).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(taken instanceof SipwallError);
  t.equal((taken as SipwallError).code, 'SIPWALL_ERR_CONFIG');
  t.match((taken as Error).message, new RegExp(`^metrics\\.listen: cannot listen on 127\\.0\\.0\\.1:${a.address.port}: the address is in use`));
  t.match((taken as Error).message, /metrics\.enabled: false/);
  // 192.0.2.1 (TEST-NET-1, RFC 5737) is not an address of this host.
  const foreign = await startMetricsServer({ host: '192.0.2.1', port: 9467 }, registry()).then(
    () => null,
    (e: unknown) => e,
  );
  t.equal((foreign as SipwallError).code, 'SIPWALL_ERR_CONFIG');
  t.match((foreign as Error).message, /192\.0\.2\.1:9467: not an address of this host/);
  t.equal((await call(a.address.port, 'GET', '/metrics')).status, 200, 'the first listener is unharmed');
});

t.test('close() stops listening, even with a client keeping its connection open', async (t) => {
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, registry());
  const port = srv.address.port;
  // A keep-alive connection left open, as Prometheus keeps one between scrapes.
  const { Agent } = await import('node:http');
  const agent = new Agent({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    }).on('error', reject).end();
  });
  const closed = await Promise.race([srv.close().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
  agent.destroy();
  t.ok(closed, 'closed within 3 s');
  const after = await call(port, 'GET', '/metrics').then(
    () => 'answered',
    (e: NodeJS.ErrnoException) => e.code,
  );
  t.equal(after, 'ECONNREFUSED');
});

t.test('a scrape flood renders the registry once a second, not once a request', async (t) => {
  const reg = registry();
  let renders = 0;
  new Gauge({
    name: 'test_renders',
    help: 'counts collections',
    registers: [reg],
    collect() {
      this.set(++renders);
    },
  });
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, reg);
  t.teardown(() => srv.close());
  const port = srv.address.port;
  const replies = await Promise.all(Array.from({ length: 30 }, () => call(port, 'GET', '/metrics')));
  t.ok(replies.every((r) => r.status === 200), '30 concurrent scrapes all answered');
  t.ok(renders <= 2, `with ${renders} rendering(s)`);
  t.ok(replies.every((r) => r.body === replies[0]!.body), 'the same text');
  for (let i = 0; i < 20; i++) await call(port, 'GET', '/metrics');
  t.ok(renders <= 2, `20 more in a row within the second: still ${renders}`);
  await new Promise((r) => setTimeout(r, 1100));
  const later = await call(port, 'GET', '/metrics');
  t.ok(renders >= 2 && later.body.includes(`test_renders ${renders}`), 'a second later it renders afresh');
});

t.test('idle connections are closed within seconds, not held for 30', async (t) => {
  const { connect } = await import('node:net');
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, registry());
  t.teardown(() => srv.close());
  // A local process filling every connection slot and sending nothing.
  const socks = Array.from({ length: 32 }, () => connect(srv.address.port, '127.0.0.1'));
  t.teardown(() => socks.forEach((s) => s.destroy()));
  const t0 = Date.now();
  const closedAt = await Promise.all(socks.map((s) => new Promise<number>((r) => { s.on('error', () => {}); s.once('close', () => r(Date.now() - t0)); setTimeout(() => r(Infinity), 8000); })));
  const worst = Math.max(...closedAt);
  t.ok(worst < 6000, `all 32 closed by the server (the last after ${worst} ms)`);
  t.equal((await call(srv.address.port, 'GET', '/metrics')).status, 200, 'and scrapes are answered again');
});
