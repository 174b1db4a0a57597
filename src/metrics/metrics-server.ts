// The /metrics endpoint: node:http, one path, GET and HEAD only. It listens
// on loopback by default (metrics.listen); a host that exposes it further
// should firewall the port, as the metrics tell an attacker how well their
// scan is doing. Limits keep a slow or hostile client from holding it: short
// header and request timeouts enforced promptly, few connections, no request
// body read, and one rendering a second however often it is asked for.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { SipwallError } from '../errors.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';

export interface MetricsServer {
  /** Where it listens (the port the kernel gave when 0 was asked). */
  readonly address: ListenAddress;
  /** http://address/metrics */
  readonly url: string;
  close(): Promise<void>;
}

const MAX_CONNECTIONS = 32;

/**
 * A rendering is served for this long. Rendering runs on the thread that
 * gives verdicts (a full walk of every collector: 50-120 ms with 262,144
 * bans), so a local process scraping in a loop would otherwise add that
 * much delay to packets again and again. Prometheus scrapes every 15 s or
 * so: a second-old value is invisible to it.
 */
const RENDER_REUSE_MS = 1000;

/** Renders the registry at most once per RENDER_REUSE_MS; concurrent requests share one rendering. */
function renderer(registry: Registry): () => Promise<string> {
  let text = '';
  let at = -Infinity;
  let pending: Promise<string> | null = null;
  return () => {
    if (performance.now() - at < RENDER_REUSE_MS) return Promise.resolve(text);
    if (pending !== null) return pending;
    pending = registry.metrics().then(
      (t) => {
        text = t;
        at = performance.now();
        pending = null;
        return t;
      },
      (e: unknown) => {
        pending = null;
        throw e;
      },
    );
    return pending;
  };
}

function handle(registry: Registry, render: () => Promise<string>, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '').split('?', 1)[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: sipwall serves /metrics only\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  render().then(
    (text) => {
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
    (err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${(err as Error).message}\n`);
    },
  );
}

/**
 * Listens on `listen` and serves the registry. Rejects with a
 * SIPWALL_ERR_CONFIG error naming `metrics.listen` when the address cannot
 * be bound (in use, not an address of this host, no permission).
 */
export async function startMetricsServer(listen: ListenAddress, registry: Registry): Promise<MetricsServer> {
  const render = renderer(registry);
  // Node checks headersTimeout and requestTimeout only every
  // connectionsCheckingInterval (30 s by default): 32 idle connections from
  // any local user would hold every slot that long. Checked each 500 ms,
  // and a socket idle for 5 s is closed.
  const server: Server = createServer({ connectionsCheckingInterval: 500 }, (req, res) => handle(registry, render, req, res));
  server.headersTimeout = 2000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5000;
  server.setTimeout(5000, (sock) => sock.destroy());
  server.maxHeadersCount = 50;
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const why = e.code === 'EADDRINUSE' ? 'the address is in use (another sipwall or exporter?)' : e.code === 'EADDRNOTAVAIL' ? 'not an address of this host' : e.message;
      reject(
        new SipwallError(
          `metrics.listen: cannot listen on ${formatListenAddress(listen)}: ${why}; choose another metrics.listen or set metrics.enabled: false`,
          'SIPWALL_ERR_CONFIG',
          { cause: e },
        ),
      );
    };
    server.once('error', onError);
    server.listen({ host: listen.host, port: listen.port, exclusive: true }, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
  // Errors after listening (a client resetting mid-response) are the client's business.
  server.on('error', () => undefined);
  server.on('clientError', (_e, sock) => sock.destroy());
  const a = server.address();
  const address: ListenAddress = typeof a === 'object' && a !== null ? { host: listen.host, port: a.port } : listen;
  return {
    address,
    url: `http://${formatListenAddress(address)}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
