// One JSON line per decision that matters (ban, trust, start, stop, reload,
// errors) on stdout, written by pino, in a shape fail2ban or CrowdSec can parse:
//   {"level":"warn","time":"2026-11-21T17:00:00.000Z","event":"ban","source":"198.51.100.7",...}
// No line per accepted packet. A token bucket in front of pino caps the rate,
// so a flood of bans cannot fill the disk; what was held back is counted in
// the next line that gets through. Writes are synchronous: a line about a
// ban is on stdout before the next batch, and a kill -9 loses none.

import { pino, type Logger as Pino } from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface LoggerOptions {
  /** Lines per second allowed on average. */
  rate?: number;
  /** Lines allowed in a burst. */
  burst?: number;
  /** Where lines go (tests); default stdout, synchronously. */
  write?: (line: string) => void;
  now?: () => number;
}

export class Logger {
  private tokens: number;
  private last: number;
  private suppressed = 0;
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly pino: Pino;

  constructor(opts: LoggerOptions = {}) {
    this.rate = opts.rate ?? 50;
    this.burst = opts.burst ?? 200;
    this.now = opts.now ?? Date.now;
    this.tokens = this.burst;
    this.last = this.now();
    const write = opts.write;
    this.pino = pino(
      {
        base: undefined,
        level: 'debug',
        timestamp: () => `,"time":"${new Date(this.now()).toISOString()}"`,
        formatters: { level: (label) => ({ level: label }) },
      },
      write !== undefined ? { write } : pino.destination({ dest: 1, sync: true }),
    );
  }

  /** Lines dropped by the rate limit since the last one that got through. */
  get held(): number {
    return this.suppressed;
  }

  log(level: Level, event: string, fields: Record<string, unknown> = {}, always = false): void {
    const t = this.now();
    // The wall clock can step back (NTP, a resumed VM): that refills nothing,
    // but must not leave the bucket in debt for as long as the step.
    if (t > this.last) this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (!always && this.tokens < 1) {
      this.suppressed++;
      return;
    }
    this.tokens = Math.max(0, this.tokens - 1);
    const rec: Record<string, unknown> = { event, ...fields };
    if (this.suppressed > 0) {
      rec['suppressed'] = this.suppressed;
      this.suppressed = 0;
    }
    this.pino[level](rec);
  }

  info(event: string, fields?: Record<string, unknown>): void {
    this.log('info', event, fields);
  }

  warn(event: string, fields?: Record<string, unknown>): void {
    this.log('warn', event, fields);
  }

  /** Errors and lifecycle lines are never held back. */
  error(event: string, fields?: Record<string, unknown>): void {
    this.log('error', event, fields, true);
  }

  lifecycle(event: string, fields?: Record<string, unknown>): void {
    this.log('info', event, fields, true);
  }
}
