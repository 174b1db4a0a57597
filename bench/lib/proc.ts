// A child process of a bench (the attack lab, the inline bench): its own process group (killed as a whole),
// stdout split into lines (or sent straight to a file for the big logs),
// stderr kept (bounded), waits for a line or an exit, always bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { killGroup, trackChild } from './cleanup.js';

export interface ProcOptions {
  /** Send stdout and stderr to this file instead of reading them. */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class Proc {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  /** Date.now() when each line arrived (same index as lines). */
  readonly lineTimes: number[] = [];
  readonly startedAt = Date.now();
  stderr = '';
  #buf = '';
  #waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;
  #lineHook: ((line: string, at: number) => void) | null = null;
  /** Lines already consumed by request(). */
  #consumed = 0;

  constructor(argv: string[], opts: ProcOptions = {}) {
    let fd: number | null = null;
    if (opts.logFile !== undefined) fd = openSync(opts.logFile, 'a');
    this.child = spawn(argv[0] as string, argv.slice(1), {
      stdio: ['pipe', fd ?? 'pipe', fd ?? 'pipe'],
      detached: true,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    if (fd !== null) closeSync(fd);
    trackChild(this.child);
    this.child.stdin?.on('error', () => undefined);
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (s: string) => {
      this.#buf += s;
      const parts = this.#buf.split('\n');
      this.#buf = parts.pop() ?? '';
      const now = Date.now();
      for (const p of parts) {
        const line = p.replace(/\r$/, '');
        this.lines.push(line);
        this.lineTimes.push(now);
        this.#lineHook?.(line, now);
      }
      this.#wake();
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (s: string) => {
      if (this.stderr.length < 65_536) this.stderr += s;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.#wake();
        resolve(code ?? (signal !== null ? 128 : null));
      });
      this.child.on('error', (e) => {
        this.stderr += String(e);
        this.#wake();
        resolve(null);
      });
    });
  }

  /** Called for every stdout line as it arrives (after the lines already read). */
  onLine(fn: (line: string, at: number) => void): void {
    this.#lineHook = fn;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Waits for a stdout line matching pred; null on timeout or exit. */
  async waitLine(pred: (l: string) => boolean, timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit !== undefined) return hit;
      if (!this.alive) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a command line on stdin and returns the next JSON line printed after it (the C helpers' protocol). */
  async request(cmd: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    this.#consumed = this.lines.length;
    this.child.stdin?.write(`${cmd}\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (; this.#consumed < this.lines.length; this.#consumed++) {
        const l = this.lines[this.#consumed] as string;
        if (l.startsWith('{')) {
          this.#consumed++;
          return JSON.parse(l) as Record<string, unknown>;
        }
      }
      if (!this.alive) throw new Error(`${cmd}: process exited: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${cmd}: no answer in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for the exit at most timeoutMs, then kills the group; resolves with the exit code (null if killed). */
  async waitExit(timeoutMs: number): Promise<number | null> {
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      killGroup(this.child, 'SIGKILL');
    }, timeoutMs);
    const code = await this.exited;
    clearTimeout(t);
    return timedOut ? null : code;
  }

  /** Signal (SIGTERM by default) to the process, SIGKILL to its group after graceMs. */
  async stop(graceMs = 5000, sig: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.alive) {
      try {
        this.child.kill(sig);
      } catch {
        // gone
      }
    }
    const t = setTimeout(() => killGroup(this.child, 'SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    // Whatever it forked and left behind in its group.
    killGroup(this.child, 'SIGKILL');
    return code;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
