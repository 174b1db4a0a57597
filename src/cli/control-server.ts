// The control socket inside `sipwall start`. The socket file is created with
// mode 0600 (root only), or 0660 owned by a named group when configured, in a
// directory only root can write to. A stale socket left by a killed sipwall
// is replaced; a live one (another sipwall answering) is an error.

import { chmodSync, chownSync, lstatSync, mkdirSync, type Stats, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ControlError, SipwallError } from '../errors.js';
import { MAX_REQUEST_BYTES, requestProblem, type ControlReply, type ControlRequest } from './control-protocol.js';

export type ControlHandler = (req: ControlRequest) => ControlReply | Promise<ControlReply>;

function groupId(name: string): number {
  try {
    const line = execFileSync('getent', ['group', name], { encoding: 'utf8' }).trim();
    const gid = Number(line.split(':')[2]);
    if (Number.isInteger(gid)) return gid;
  } catch {
    // fall through
  }
  throw new ControlError(`control socket group ${JSON.stringify(name)} does not exist`);
}

/** Whether something answers on the socket path (a running sipwall). */
function alive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A request must be whole within this long after the connection opens, and
 * its answer written within it too: a client trickling a byte every few
 * seconds cannot keep a connection (and with it stopControlServer, which
 * `start` awaits before removing its rules) for hours.
 */
const CONNECTION_DEADLINE_MS = 10_000;

/** Open client connections per server, destroyed when it stops. */
const clients = new WeakMap<Server, Set<Socket>>();

export async function startControlServer(path: string, group: string, handle: ControlHandler): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (await alive(path)) throw new ControlError(`another sipwall is answering on ${path}; stop it first`);
  // A socket left by a sipwall that was killed is removed; anything else at
  // that path (a mistyped control.socket naming the config file) is not ours.
  let st: Stats | null = null;
  try {
    st = lstatSync(path);
  } catch {
    // absent: nothing to remove
  }
  if (st !== null) {
    if (!st.isSocket()) throw new ControlError(`${path} exists and is not a socket; sipwall will not remove it (check control.socket)`);
    unlinkSync(path);
  }
  const gid = group === '' ? -1 : groupId(group);
  const open = new Set<Socket>();
  const server = createServer((sock) => {
    open.add(sock);
    sock.once('close', () => open.delete(sock));
    serve(sock, handle);
  });
  clients.set(server, open);
  // Created with a umask that leaves no access to others, then narrowed; no
  // window where anyone else can connect. The umask is the process's: it is
  // put back whatever happens, or every file written later would be 0600.
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new ControlError(`cannot listen on ${path}: ${e.message}`)));
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(old);
  }
  try {
    if (gid >= 0) {
      chownSync(path, 0, gid);
      chmodSync(path, 0o660);
    } else {
      chmodSync(path, 0o600);
    }
  } catch (e) {
    // Giving the socket to a group takes CAP_CHOWN or membership of that
    // group (chown(2)); sipwall.service grants neither unless told to.
    await stopControlServer(server, path);
    const hint = gid >= 0 ? ` (giving it to group ${JSON.stringify(group)} takes membership of it: SupplementaryGroups=${group} in sipwall.service)` : '';
    throw new ControlError(`cannot set the mode of ${path}${hint}: ${(e as Error).message}`);
  }
  return server;
}

/** Stops listening, removes the socket file and drops the clients still connected. */
export function stopControlServer(server: Server, path: string): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const sock of clients.get(server) ?? []) sock.destroy();
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  });
}

function serve(sock: Socket, handle: ControlHandler): void {
  let buf = '';
  sock.setEncoding('utf8');
  const deadline = setTimeout(() => sock.destroy(), CONNECTION_DEADLINE_MS);
  deadline.unref();
  sock.once('close', () => clearTimeout(deadline));
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_REQUEST_BYTES) {
      sock.end(`${JSON.stringify({ ok: false, error: 'request too large', code: 'SIPWALL_ERR_CONTROL' })}\n`);
      return;
    }
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    const line = buf.slice(0, nl);
    buf = '';
    sock.pause(); // one request per connection: nothing more is read
    void answer(line, handle).then((reply) => {
      if (!sock.destroyed) sock.end(`${JSON.stringify(reply)}\n`);
    });
  });
}

async function answer(line: string, handle: ControlHandler): Promise<ControlReply> {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return { ok: false, error: 'request is not JSON', code: 'SIPWALL_ERR_CONTROL' };
  }
  const problem = requestProblem(req);
  if (problem !== null) return { ok: false, error: problem, code: 'SIPWALL_ERR_CONTROL' };
  try {
    return await handle(req as ControlRequest);
  } catch (e) {
    return { ok: false, error: (e as Error).message, code: e instanceof SipwallError ? e.code : 'SIPWALL_ERR_UNKNOWN' };
  }
}

/** Client side: sends one request, resolves with the reply; errors say what to check. */
export function controlRequest(path: string, req: ControlRequest, timeoutMs = 10_000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ControlError(`no answer from sipwall on ${path} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.once('connect', () => s.write(`${JSON.stringify(req)}\n`));
    s.on('data', (d: string) => (data += d));
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why =
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
          ? 'is sipwall running? (sipwall start)'
          : e.code === 'EACCES'
            ? 'permission denied: run as root or as a member of the control group'
            : e.message;
      reject(new ControlError(`cannot reach sipwall on ${path}: ${why}`));
    });
    s.once('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(data.trim()) as ControlReply);
      } catch {
        reject(new ControlError(`sipwall on ${path} sent an unreadable answer`));
      }
    });
  });
}
