// Child process run inside a test network namespace
// (`ip netns exec NS node dist/test/queue/queue-agent.js`), driven by the
// test over stdin/stdout, one JSON object per line each way.
//
// In the server namespace it opens NfQueue instances with the test verdict
// function below and runs UDP/TCP listeners; in the client namespace it sends
// traffic. Sockets must be created by a process inside the namespace, which
// is why this is a separate process at all.
//
// Test verdict, on the bytes of each packet handed to JavaScript:
//   DROPME   -> VERDICT_DROP
//   TRUSTME  -> VERDICT_TRUST
//   WATCHME  -> VERDICT_WATCH
//   NOANSWER -> left VERDICT_UNSET (the addon must fail open)
//   THROWME  -> the callback throws at this packet (the rest of the batch is
//               unanswered and must fail open)
//   TRANSFERME -> the callback transfers the verdict array's memory away
//               (the addon must close the queue, not write into it)
//   anything else -> VERDICT_ACCEPT

import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import {
  DESC_CAPLEN,
  DESC_FLAGS,
  DESC_HOOK,
  DESC_ID,
  DESC_IFINDEX,
  DESC_MARK,
  DESC_OFFSET,
  DESC_ORIGLEN,
  DESC_STRIDE,
  NfQueue,
  VERDICT_ACCEPT,
  VERDICT_DROP,
  VERDICT_TRUST,
  VERDICT_WATCH,
  type QueueBatch,
} from '../../src/queue/nfqueue.js';
import { NATIVE_ADDON_PATH } from '../../src/queue/native-addon.js';

type Cmd = Record<string, unknown> & { id: number; op: string };

const NEEDLES = {
  drop: Buffer.from('DROPME'),
  trust: Buffer.from('TRUSTME'),
  watch: Buffer.from('WATCHME'),
  noAnswer: Buffer.from('NOANSWER'),
  throwMe: Buffer.from('THROWME'),
  slow: Buffer.from('SLOWME'),
  desc: Buffer.from('DESCME'),
  close: Buffer.from('CLOSEME'),
  transfer: Buffer.from('TRANSFERME'),
};

/** Bounded search of needle in data[start, end): no Buffer per packet. */
function contains(data: Buffer, start: number, end: number, needle: Buffer): boolean {
  const last = end - needle.length;
  const first = needle[0];
  outer: for (let i = start; i <= last; i++) {
    if (data[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (data[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const queues = new Map<string, NfQueue>();
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let lastDesc: Record<string, number> | null = null;
const batchSizes: number[] = [];

function testVerdicts(name: string): (b: QueueBatch) => void {
  return (b) => {
    if (batchSizes.length < 10_000) batchSizes.push(b.count);
    for (let i = 0; i < b.count; i++) {
      const d = i * DESC_STRIDE;
      const off = b.desc[d + DESC_OFFSET] ?? 0;
      const end = off + (b.desc[d + DESC_CAPLEN] ?? 0);
      if (contains(b.data, off, end, NEEDLES.throwMe)) throw new Error('THROWME seen');
      // Blocks the event loop so that the kernel keeps queueing meanwhile.
      if (contains(b.data, off, end, NEEDLES.slow)) Atomics.wait(sleeper, 0, 0, 500);
      if (contains(b.data, off, end, NEEDLES.desc)) {
        lastDesc = {
          id: (b.desc[d + DESC_ID] ?? 0) >>> 0,
          offset: off,
          caplen: b.desc[d + DESC_CAPLEN] ?? 0,
          origlen: b.desc[d + DESC_ORIGLEN] ?? 0,
          flags: b.desc[d + DESC_FLAGS] ?? 0,
          ifindex: b.desc[d + DESC_IFINDEX] ?? 0,
          hook: b.desc[d + DESC_HOOK] ?? 0,
          mark: (b.desc[d + DESC_MARK] ?? 0) >>> 0,
          firstByte: b.data[off] ?? -1,
          count: b.count,
        };
      }
      if (contains(b.data, off, end, NEEDLES.close)) queues.get(name)?.close();
      if (contains(b.data, off, end, NEEDLES.transfer)) {
        // Moves the verdict memory out of the addon's reach: it must notice and close.
        structuredClone(b.verdicts.buffer, { transfer: [b.verdicts.buffer as ArrayBuffer] });
        return;
      }
      if (contains(b.data, off, end, NEEDLES.noAnswer)) continue;
      b.verdicts[i] = contains(b.data, off, end, NEEDLES.drop)
        ? VERDICT_DROP
        : contains(b.data, off, end, NEEDLES.trust)
          ? VERDICT_TRUST
          : contains(b.data, off, end, NEEDLES.watch)
            ? VERDICT_WATCH
            : VERDICT_ACCEPT;
    }
  };
}

function addrBytes(addr: string): { bytes: Uint8Array; family: 4 | 6 } {
  const fam = net.isIP(addr);
  if (fam === 4) return { bytes: Uint8Array.from(addr.split('.').map(Number)), family: 4 };
  if (fam !== 6) throw new Error(`not an IP address: ${addr}`);
  const [head = '', tail] = addr.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    bytes[i * 2] = v >> 8;
    bytes[i * 2 + 1] = v & 0xff;
  });
  return { bytes, family: 6 };
}

function errorInfo(err: unknown): { name: string; code: string | undefined; message: string } {
  const e = err as { name?: string; code?: string; message?: string };
  return { name: String(e.name), code: e.code, message: String(e.message ?? err) };
}

const received = { udp: [] as string[], tcp: [] as string[] };
const servers: { close(): void }[] = [];
let worker: Worker | undefined;

function reply(id: number, body: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ id, ...body })}\n`);
}

function queue(cmd: Cmd): NfQueue {
  const q = queues.get(String(cmd.name ?? 'q'));
  if (q === undefined) throw new Error(`no queue ${String(cmd.name)}`);
  return q;
}

function sendUdp(family: 4 | 6, to: string, port: number, payloads: string[], srcAddr?: string, srcPort?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    s.on('error', reject);
    const go = (): void => {
      let sent = 0;
      let i = 0;
      // Chunks of 64 with a turn of the event loop in between: bounded
      // memory in the send queue, still fast enough to build batches.
      const next = (): void => {
        const stop = Math.min(payloads.length, i + 64);
        for (; i < stop; i++) {
          s.send(payloads[i] as string, port, to, (err) => {
            if (err) {
              s.close();
              reject(err);
              return;
            }
            sent++;
            if (sent === payloads.length) {
              s.close();
              resolve(sent);
            }
          });
        }
        if (i < payloads.length) setImmediate(next);
      };
      if (payloads.length === 0) {
        s.close();
        resolve(0);
      } else next();
    };
    if (srcAddr !== undefined || srcPort !== undefined) s.bind({ address: srcAddr, port: srcPort ?? 0 }, go);
    else go();
  });
}

function tcpSend(to: string, port: number, payload: string, waitMs: number, srcAddr?: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    let connected = false;
    let echoed = '';
    const sock = net.connect({ host: to, port, localAddress: srcAddr });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ connected, echoed });
    }, waitMs);
    sock.on('connect', () => {
      connected = true;
      sock.write(payload);
    });
    sock.on('data', (d) => {
      echoed += d.toString();
      if (echoed.includes('\n')) {
        clearTimeout(timer);
        sock.destroy();
        resolve({ connected, echoed });
      }
    });
    sock.on('error', () => undefined);
  });
}

async function handle(cmd: Cmd): Promise<Record<string, unknown>> {
  switch (cmd.op) {
    case 'open': {
      const name = String(cmd.name ?? 'q');
      try {
        const q = NfQueue.open(cmd.opts as Record<string, unknown>, testVerdicts(name));
        queues.set(name, q);
        return { ok: true, conntrackMark: q.conntrackMark, rcvBufBytes: q.rcvBufBytes, closed: q.closed };
      } catch (err) {
        return { ok: false, error: errorInfo(err) };
      }
    }
    case 'tryOpen': {
      // Opens with arbitrary (bad) options; must fail before any native call.
      try {
        const q = NfQueue.open(cmd.opts as Record<string, unknown>, () => undefined);
        q.close();
        return { ok: true };
      } catch (err) {
        return { ok: false, error: errorInfo(err) };
      }
    }
    case 'close': {
      // Kept in the map: stats stay readable after close().
      queue(cmd).close();
      return { ok: true };
    }
    case 'stats': {
      const q = queue(cmd);
      const le = q.lastError;
      return { stats: q.stats(), closed: q.closed, lastError: le === undefined ? null : errorInfo(le), lastDesc, batchSizes };
    }
    case 'hotSetRaw': {
      // Arbitrary arguments, for the argument checks.
      try {
        const q = queue(cmd);
        const addr = cmd.addr === 'bytes16' ? new Uint8Array(16) : cmd.addr === 'bytes4' ? new Uint8Array(4) : cmd.addr;
        return { ok: true, result: q.hotSet(addr as Uint8Array, cmd.family as 4, cmd.verdict as 0, cmd.ttlMs as number) };
      } catch (err) {
        return { ok: false, error: errorInfo(err) };
      }
    }
    case 'hotSet': {
      const { bytes, family } = addrBytes(String(cmd.addr));
      return { result: queue(cmd).hotSet(bytes, family, cmd.verdict as 0 | 1 | 2, Number(cmd.ttlMs)) };
    }
    case 'hotDelete': {
      const { bytes, family } = addrBytes(String(cmd.addr));
      return { result: queue(cmd).hotDelete(bytes, family) };
    }
    case 'hotClear':
      queue(cmd).hotClear();
      return { ok: true };
    case 'mapped':
      return { mapped: readFileSync('/proc/self/maps', 'utf8').includes(NATIVE_ADDON_PATH) };
    case 'listen': {
      const port = Number(cmd.port);
      if (cmd.proto === 'tcp') {
        const srv = net.createServer((c) => {
          let buf = '';
          c.on('data', (d) => {
            buf += d.toString();
            received.tcp.push(d.toString());
            c.write('OK\n');
          });
          c.on('error', () => undefined);
          c.on('close', () => void buf);
        });
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen({ port, host: '::', ipv6Only: false }, resolve);
        });
        servers.push(srv);
      } else {
        const s = dgram.createSocket({ type: cmd.proto === 'udp6' ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 });
        s.on('message', (m) => received.udp.push(m.toString()));
        await new Promise<void>((resolve) => s.bind(port, resolve));
        // Asked before bind, applied after: dgram only takes it once bound.
        s.setRecvBufferSize(4 << 20);
        servers.push(s);
      }
      return { ok: true };
    }
    case 'received':
      return { udp: received.udp, tcp: received.tcp };
    case 'clearReceived':
      received.udp.length = 0;
      received.tcp.length = 0;
      return { ok: true };
    case 'sendUdp': {
      const payloads = (cmd.payloads as string[] | undefined) ?? [];
      const count = Number(cmd.count ?? 0);
      for (let i = 0; i < count; i++) payloads.push(`${String(cmd.prefix ?? 'burst')}-${i}`);
      const sent = await sendUdp(
        cmd.family === 6 ? 6 : 4,
        String(cmd.to),
        Number(cmd.port),
        payloads,
        cmd.srcAddr as string | undefined,
        cmd.srcPort as number | undefined,
      );
      return { sent };
    }
    case 'tcpSend':
      return tcpSend(String(cmd.to), Number(cmd.port), String(cmd.payload), Number(cmd.waitMs ?? 2000), cmd.srcAddr as string | undefined);
    case 'workerOpen': {
      // A queue opened in a worker that is then terminated without close():
      // the addon's environment cleanup hook must unbind it.
      const w = new Worker(
        `(async () => {
           const { NfQueue } = await import(${JSON.stringify(new URL('../../src/queue/nfqueue.js', import.meta.url).href)});
           const { parentPort, workerData } = await import('node:worker_threads');
           NfQueue.open({ queueNum: workerData.queueNum }, (b) => { for (let i = 0; i < b.count; i++) b.verdicts[i] = 0; });
           parentPort.postMessage('opened');
         })();`,
        { eval: true, workerData: { queueNum: Number(cmd.queueNum) } },
      );
      worker = w;
      const msg = await new Promise<string>((resolve, reject) => {
        w.once('message', (m) => resolve(String(m)));
        w.once('error', reject);
      });
      return { msg };
    }
    case 'workerTerminate': {
      const code = await worker?.terminate();
      worker = undefined;
      return { code };
    }
    case 'exit':
      for (const q of queues.values()) q.close();
      for (const s of servers) s.close();
      setImmediate(() => process.exit(0));
      return { ok: true };
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  let cmd: Cmd;
  try {
    cmd = JSON.parse(line) as Cmd;
  } catch {
    return;
  }
  handle(cmd).then(
    (body) => reply(cmd.id, body),
    (err: unknown) => reply(cmd.id, { failed: errorInfo(err) }),
  );
});
process.stdin.on('end', () => process.exit(0));
