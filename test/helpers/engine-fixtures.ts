// Shared by engine, rules and CLI tests: an engine built from the shipped
// defaults plus overrides, and a one-call way to judge a SIP message from a
// given source.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decision } from '../../src/engine/decision.js';
import { Engine } from '../../src/engine/engine.js';
import { buildTcpPacket, buildUdpPacket } from '../../src/packet/build-packet.js';
import { decodeIp } from '../../src/packet/decode-ip.js';
import { DECODE_OK, PacketView } from '../../src/packet/packet-view.js';
import { compileRules } from '../../src/rules/compile-rules.js';
import type { Config } from '../../src/rules/config-types.js';
import { DEFAULT_RULES_FILE, mergeConfig, readYamlFile } from '../../src/rules/load-config.js';
import { validateConfig } from '../../src/rules/validate-config.js';

export const ROOT = process.cwd();
export const SAMPLES_DIR = join(ROOT, 'rules', 'samples');
export const CORPUS_DIR = join(ROOT, 'test', 'fixtures', 'corpus');
export const SECRET = 'secret-7f3a.pbx.example.com';
export const PBX = '203.0.113.10';

export function configWith(over: Record<string, unknown> = {}): Config {
  const merged = mergeConfig(readYamlFile(DEFAULT_RULES_FILE), over);
  return validateConfig(merged, { fileFor: () => 'test', warnings: [] });
}

/** Defaults with the secret host set and every opt-in rule switched on. */
export function allRulesConfig(over: Record<string, unknown> = {}): Config {
  const c = configWith({ secretHosts: [SECRET], ...over });
  for (const r of Object.values(c.userAgents)) r.enabled = true;
  for (const r of Object.values(c.fingerprints)) r.enabled = true;
  return c;
}

export function engineFor(config: Config): Engine {
  return new Engine(compileRules(config));
}

export class Judge {
  readonly view = new PacketView();
  readonly d = new Decision();
  constructor(readonly engine: Engine) {}

  packet(pkt: Buffer, now: number): Decision {
    const st = decodeIp(pkt, 0, pkt.length, this.view);
    if (st !== DECODE_OK) throw new Error(`test packet did not decode: ${st}`);
    this.engine.decide(this.view, now, this.d);
    return this.d;
  }

  udp(src: string, payload: Buffer | string, now: number, dst = src.includes(':') ? '2001:db8::10' : PBX): Decision {
    return this.packet(buildUdpPacket(src, dst, 5060, 5060, Buffer.from(payload)), now);
  }

  /** A datagram the PBX sends to `dst` (an answer), through Engine.observe as sipwall start sees one queued from OUTPUT. */
  answer(dst: string, payload: Buffer | string, now: number, src = dst.includes(':') ? '2001:db8::10' : PBX): Decision {
    const pkt = buildUdpPacket(src, dst, 5060, 5060, Buffer.from(payload));
    const st = decodeIp(pkt, 0, pkt.length, this.view);
    if (st !== DECODE_OK) throw new Error(`test packet did not decode: ${st}`);
    this.engine.observe(this.view, now, this.d);
    return this.d;
  }

  /** The PBX's ISN + 1 on each connection whose SYN|ACK went through pbxTcp: what the client acknowledges. */
  private readonly pbxNext = new Map<string, number>();

  /** A segment from a client; its ack, unless given, acknowledges the PBX's SYN|ACK as a real client's would. */
  tcp(src: string, sport: number, seq: number, flags: number, payload: Buffer | string, now: number, ack?: number): Decision {
    const a = ack ?? this.pbxNext.get(`${src} ${sport}`) ?? 0;
    return this.packet(buildTcpPacket(src, PBX, sport, 5060, seq, flags, Buffer.from(payload), a), now);
  }

  /** A segment the PBX sends back on that connection (its SYN|ACK acknowledging `ack`, its RST), through Engine.observe. */
  pbxTcp(dst: string, dport: number, seq: number, ack: number, flags: number, now: number, payload: Buffer | string = ''): Decision {
    if ((flags & 0x12) === 0x12) this.pbxNext.set(`${dst} ${dport}`, (seq + 1) >>> 0);
    const pkt = buildTcpPacket(PBX, dst, 5060, dport, seq, flags, Buffer.from(payload), ack);
    const st = decodeIp(pkt, 0, pkt.length, this.view);
    if (st !== DECODE_OK) throw new Error(`test packet did not decode: ${st}`);
    this.engine.observe(this.view, now, this.d);
    return this.d;
  }
}

export function sampleDirs(): string[] {
  return readdirSync(SAMPLES_DIR).sort();
}

export function samples(dir: string): Array<{ name: string; data: Buffer }> {
  return readdirSync(join(SAMPLES_DIR, dir))
    .filter((f) => f.endsWith('.sip'))
    .sort()
    .map((name) => ({ name, data: readFileSync(join(SAMPLES_DIR, dir, name)) }));
}
