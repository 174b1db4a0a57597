// When did the attacker send? Samples the packets its namespace's
// interface transmitted (raw-socket floods included) every 100 ms (through a `sleep` parked in the namespace, read from /proc)
// so "cut off" can be told apart from "finished": an attacker is cut off
// when it went on sending after its last request reached the PBX.

import { txPackets } from './proc-stats.js';
import { readlinkSync, statSync } from 'node:fs';
import { Proc, sleep } from '../lib/proc.js';
import type { Topology } from './topology.js';

export class AttackerMeter {
  readonly #anchor: Proc;
  readonly #timer: NodeJS.Timeout;
  #last: number | null = null;
  /** Epoch ms of the first and last sample in which the attacker's counter rose. */
  firstSend: number | null = null;
  lastSend: number | null = null;
  packets = 0;

  private constructor(anchor: Proc) {
    this.#anchor = anchor;
    this.sample();
    this.#timer = setInterval(() => this.sample(), 100);
  }

  static async start(topo: Topology): Promise<AttackerMeter> {
    // Bounded: it outlives no run (killed in stop()), and the lab kills its group on exit.
    const anchor = new Proc(topo.argv('attacker', ['sleep', '3600']));
    // Until `ip netns exec` has entered the namespace, /proc/PID/net is the host's.
    const want = `net:[${statSync(`/run/netns/${topo.attacker}`).ino}]`;
    for (let i = 0; i < 100; i++) {
      try {
        if (readlinkSync(`/proc/${anchor.pid}/ns/net`) === want) return new AttackerMeter(anchor);
      } catch {
        // not started yet
      }
      await sleep(20);
    }
    await anchor.stop(500, 'SIGKILL');
    throw new Error('attacker meter: could not enter the attacker namespace');
  }

  sample(): void {
    const v = txPackets(this.#anchor.pid, 'eth0');
    if (v === null) return;
    const now = Date.now();
    if (this.#last !== null && v > this.#last) {
      this.packets += v - this.#last;
      // The rise happened within the last 100 ms; take the sample time.
      this.firstSend ??= now - 100;
      this.lastSend = now;
    }
    this.#last = v;
  }

  /** Forgets what was sent so far: the attack starts now. */
  reset(): void {
    this.sample();
    this.firstSend = null;
    this.lastSend = null;
    this.packets = 0;
  }

  async stop(): Promise<void> {
    this.sample();
    clearInterval(this.#timer);
    await this.#anchor.stop(1000, 'SIGKILL');
  }
}
