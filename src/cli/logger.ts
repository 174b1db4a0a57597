// One JSON line per decision that matters (ban, trust, start, stop, reload,
// errors) on stdout, in a shape fail2ban or CrowdSec can parse:
//   {"time":"2026-11-21T17:00:00.000Z","level":"warn","event":"ban","source":"198.51.100.7",...}
// No line per accepted packet. A token bucket caps the rate, so a flood of
// bans cannot fill the disk; what was held back is counted in a later line.

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface LoggerOptions {
  /** Lines per second allowed on average. */
  rate?: number;
  /** Lines allowed in a burst. */
  burst?: number;
  write?: (line: string) => void;
  now?: () => number;
}

export class Logger {
  private tokens: number;
  private last: number;
  private suppressed = 0;
  private readonly rate: number;
  private readonly burst: number;
  private readonly write: (line: string) => void;
  private readonly now: () => number;

  constructor(opts: LoggerOptions = {}) {
    this.rate = opts.rate ?? 50;
    this.burst = opts.burst ?? 200;
    this.write = opts.write ?? ((l) => void process.stdout.write(l));
    this.now = opts.now ?? Date.now;
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Lines dropped by the rate limit since the last one that got through. */
  get held(): number {
    return this.suppressed;
  }

  log(level: Level, event: string, fields: Record<string, unknown> = {}, always = false): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (!always && this.tokens < 1) {
      this.suppressed++;
      return;
    }
    this.tokens = Math.max(0, this.tokens - 1);
    const rec: Record<string, unknown> = { time: new Date(t).toISOString(), level, event, ...fields };
    if (this.suppressed > 0) {
      rec['suppressed'] = this.suppressed;
      this.suppressed = 0;
    }
    this.write(`${JSON.stringify(rec)}\n`);
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
