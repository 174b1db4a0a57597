// `metrics.listen`: where the /metrics endpoint listens, as "host:port" with
// an IP literal for the host ("127.0.0.1:9467", "[::1]:9467",
// "0.0.0.0:9467"). A host name is refused: resolving one at start would make
// the listen address depend on DNS, and a name that resolves to a public
// address would expose the endpoint without the admin seeing it in the file.

import { isIP } from 'node:net';

export interface ListenAddress {
  /** An IPv4 or IPv6 literal, without brackets. */
  host: string;
  port: number;
}

/** Parses "ipv4:port" or "[ipv6]:port"; null when it is neither (or the port is not 1-65535). */
export function parseListenAddress(text: string): ListenAddress | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(text);
  if (m === null) return null;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  if (isIP(host) !== (m[1] !== undefined ? 6 : 4)) return null;
  return { host, port };
}

/** The address back as text, brackets around IPv6 (for logs and URLs). */
export function formatListenAddress(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Whether the address is reachable only from this host (127.0.0.0/8 or ::1). */
export function isLoopback(a: ListenAddress): boolean {
  return a.host === '::1' || /^127\./.test(a.host);
}
