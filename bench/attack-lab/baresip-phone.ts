// A real phone: baresip (Debian's package) registering extensions 100 and
// 102 to the secret hostname, with the PBX as outbound proxy (no DNS, no
// /etc/hosts: the Request-URI names the secret host, the datagrams go to
// the PBX's address), 102 re-registering every few seconds, 100 answering
// calls by itself. Its SIP trace (-s) tells when each REGISTER left and when its
// 200 came back: registration latency as the phone sees it.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BARESIP, BARESIP_EXTENSION, EXTENSIONS, PBX, SECRET_HOST, SIP_PORT } from './lab-constants.js';
import { Proc, sleep } from '../lib/proc.js';
import type { Topology } from './topology.js';

/**
 * Two accounts in one baresip: 100 answers the calls, registered for a
 * minute (a binding that lapses between refreshes would turn calls into
 * 480s that are the lab's doing); 102 re-registers every 4 s (Kamailio's
 * min_expires), so that registrations happen all through a flood.
 */
const CALLEE_REGINT = 60;
const REFRESHING_EXTENSION = '102';
const REFRESH_REGINT = 4;

export interface Registration {
  callId: string;
  start: number;
  end: number | null;
  ok: boolean;
}

const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Follows baresip's SIP trace (-s): each registration from its first
 * REGISTER (a new transaction on the account's Call-ID) to its final
 * answer; 401/407 challenges are part of it.
 */
export class RegistrationTracker {
  readonly registrations: Registration[] = [];
  readonly #pending = new Map<string, Registration>();
  #state: 'idle' | 'dir' | 'start' | 'headers' = 'idle';
  #outgoing = false;
  #startLine = '';
  #at = 0;
  #headers: string[] = [];

  line(raw: string, at: number): void {
    const l = raw.replace(ANSI, '').trim();
    switch (this.#state) {
      case 'idle':
        if (l === '#') this.#state = 'dir';
        return;
      case 'dir':
        this.#outgoing = l.startsWith(`UDP ${BARESIP}:`);
        this.#state = 'start';
        return;
      case 'start':
        this.#startLine = l;
        this.#at = at;
        this.#headers = [];
        this.#state = 'headers';
        return;
      case 'headers':
        if (l !== '' && l !== '#') {
          this.#headers.push(l);
          return;
        }
        this.#message();
        this.#state = l === '#' ? 'dir' : 'idle';
    }
  }

  #message(): void {
    const header = (name: string): string => {
      for (const h of this.#headers) {
        const m = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'i').exec(h);
        if (m !== null) return m[1] as string;
      }
      return '';
    };
    const callId = header('Call-ID');
    if (!/\bREGISTER\b/.test(header('CSeq')) || callId === '') return;
    const pending = this.#pending.get(callId);
    if (this.#outgoing) {
      if (this.#startLine.startsWith('REGISTER ') && pending === undefined) {
        const r: Registration = { callId, start: this.#at, end: null, ok: false };
        this.#pending.set(callId, r);
        this.registrations.push(r);
      }
      return;
    }
    const code = Number(/^SIP\/2\.0 (\d{3})/.exec(this.#startLine)?.[1] ?? 0);
    if (pending === undefined || code < 200 || code === 401 || code === 407) return;
    pending.end = this.#at;
    pending.ok = code < 300;
    this.#pending.delete(callId);
  }
}

export class BaresipPhone {
  readonly tracker = new RegistrationTracker();
  readonly #proc: Proc;

  private constructor(proc: Proc) {
    this.#proc = proc;
    proc.onLine((l, at) => this.tracker.line(l, at));
  }

  static async start(topo: Topology, dir: string): Promise<BaresipPhone> {
    const conf = join(dir, 'baresip');
    mkdirSync(conf, { recursive: true });
    writeFileSync(
      join(conf, 'config'),
      [
        'poll_method epoll',
        `sip_listen ${BARESIP}:${SIP_PORT}`,
        'sip_trans_def udp',
        'module_path /usr/lib/baresip/modules',
        'module g711.so',
        // No sound card in a namespace: aubridge loops the call's audio internally.
        'module aubridge.so',
        'module_app account.so',
        'module_app menu.so',
        'audio_source aubridge,lab',
        'audio_player aubridge,lab',
        'audio_alert aubridge,alert',
        '',
      ].join('\n'),
    );
    const account = (ext: string, regint: number): string =>
      `<sip:${ext}@${SECRET_HOST}>;auth_pass=${EXTENSIONS[ext] ?? ''};outbound="sip:${PBX}:${SIP_PORT}";regint=${regint};answermode=auto\n`;
    writeFileSync(join(conf, 'accounts'), account(BARESIP_EXTENSION, CALLEE_REGINT) + account(REFRESHING_EXTENSION, REFRESH_REGINT));
    // stdbuf: baresip's stdout is a pipe here; line buffering keeps the trace's timing.
    const proc = new Proc(topo.argv('phone', ['stdbuf', '-oL', 'baresip', '-s', '-f', conf]), { cwd: conf, env: { ...process.env, HOME: dir } });
    const phone = new BaresipPhone(proc);
    for (let i = 0; i < 100; i++) {
      if (phone.tracker.registrations.filter((r) => r.ok).length >= 2) return phone;
      if (!proc.alive) break;
      await sleep(100);
    }
    await proc.stop(2000);
    throw new Error(`baresip did not register: ${proc.lines.slice(-10).join(' | ')} ${proc.stderr.slice(0, 300)}`);
  }

  async stop(): Promise<void> {
    await this.#proc.stop(3000);
  }
}
