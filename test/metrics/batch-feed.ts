// Feeds raw IP packets to a real VerdictLoop the way the native addon does:
// one shared buffer, a descriptor per packet, verdicts written back. Lets the
// metrics tests run a real engine without a kernel queue.

import { Logger } from '../../src/cli/logger.js';
import type { Engine } from '../../src/engine/engine.js';
import { buildUdpPacket } from '../../src/packet/build-packet.js';
import {
  DESC_CAPLEN, DESC_FLAGS, DESC_ID, DESC_OFFSET, DESC_ORIGLEN, DESC_STRIDE, FLAG_IPV6, VERDICT_UNSET, type QueueBatch,
} from '../../src/queue/queue-batch.js';
import { VerdictLoop, type BanSink, type HotTable } from '../../src/queue/verdict-loop.js';
import { PBX } from '../helpers/engine-fixtures.js';

export class BatchFeed {
  readonly loop: VerdictLoop;
  readonly hotSets: Array<{ verdict: number; ttlMs: number }> = [];
  readonly bansAdded: Array<{ cidr: string; seconds: number }> = [];
  readonly logLines: string[] = [];
  private id = 1;

  constructor(engine: Engine, clock: () => number = Date.now) {
    const hot: HotTable = { hotSet: (_a, _f, verdict, ttlMs) => (this.hotSets.push({ verdict, ttlMs }), true) };
    const bans: BanSink = { add: (cidr, seconds) => (this.bansAdded.push({ cidr, seconds }), true) };
    this.loop = new VerdictLoop(engine, hot, bans, new Logger({ write: (l) => void this.logLines.push(l) }), clock);
  }

  /** Runs one batch of raw IP packets through the loop; returns their verdicts. */
  batch(packets: Buffer[]): number[] {
    const data = Buffer.concat(packets);
    const desc = new Int32Array(packets.length * DESC_STRIDE);
    let off = 0;
    packets.forEach((p, i) => {
      const o = i * DESC_STRIDE;
      desc[o + DESC_ID] = this.id++;
      desc[o + DESC_OFFSET] = off;
      desc[o + DESC_CAPLEN] = p.length;
      desc[o + DESC_ORIGLEN] = p.length;
      desc[o + DESC_FLAGS] = (p[0]! >> 4) === 6 ? FLAG_IPV6 : 0;
      off += p.length;
    });
    const b: QueueBatch = { count: packets.length, data, desc, verdicts: new Uint8Array(packets.length).fill(VERDICT_UNSET) };
    this.loop.onBatch(b);
    return [...b.verdicts];
  }
}

/** A UDP datagram from `src` to the PBX's SIP port. */
export function sipUdp(src: string, payload: Buffer | string): Buffer {
  return buildUdpPacket(src, src.includes(':') ? '2001:db8::10' : PBX, 5060, 5060, Buffer.from(payload));
}

/**
 * Prometheus text exposition parsed into series -> value. A series is keyed
 * as `name{a="x",b="y"}` with the labels sorted by name (see `series`), so
 * the order prom-client prints them in does not matter.
 */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.set(series(m[1]!, labels), Number(m[3]));
  }
  return out;
}

/** The key of one series in parseExposition's map. */
export function series(name: string, labels: Record<string, string> = {}): string {
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? name : `${name}{${keys.map((k) => `${k}="${labels[k]}"`).join(',')}}`;
}
