// Puts sipwall's kernel rules back when another tool removes them.
//
// Every `everyMs`, the rules and ban sets are read back (kernel/rules-check.ts
// says why and how). On drift: an error line naming what went, the same
// installRules as at start (it replaces what is left of ours and recreates
// what is missing, leaving the admin's rules alone), and the engine's bans
// put back into a ban set that had to be recreated. Between the removal and
// the next check, SIP reached the PBX unjudged: the log line says so.
//
// One check at a time (a chain of timeouts, not an interval), and stop()
// waits for the one running: `sipwall stop` removes the rules after it, and a
// check racing that removal would install them again.

import { errorCode } from '../errors.js';
import { checkRules, installRules, type CommandRunner, type KernelOptions } from '../kernel/index.js';
import type { Family } from '../kernel/render-rules.js';
import type { Logger } from './logger.js';

export interface RulesWatchdogOptions {
  opts: KernelOptions;
  /** Families installed without the answer prefilter (InstallReport.prefilterFallback). */
  noPrefilter: Set<Family>;
  everyMs: number;
  log: Pick<Logger, 'error' | 'log'>;
  /** Called with the ban sets recreated empty: put the engine's bans back in them (in the background); returns how many. */
  refill: (sets: string[]) => number;
  runner?: CommandRunner;
}

export class RulesWatchdog {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  #restored = 0;
  #failing = false;
  readonly #o: RulesWatchdogOptions;

  constructor(o: RulesWatchdogOptions) {
    this.#o = o;
    this.#schedule();
  }

  /** Times the rules were put back. */
  get restored(): number {
    return this.#restored;
  }

  /** Runs one check now (also what the timer runs); resolves when it is done. */
  check(): Promise<void> {
    this.#running ??= this.#check().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** No check starts after this; resolves once a running one has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped || this.#o.everyMs <= 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.check().then(() => this.#schedule());
    }, this.#o.everyMs);
    this.#timer.unref();
  }

  async #check(): Promise<void> {
    if (this.#stopped) return;
    const { opts, noPrefilter, log, runner } = this.#o;
    try {
      const missing = await checkRules(opts, noPrefilter, runner);
      if (missing.length === 0 || this.#stopped) {
        this.#failing = false;
        return;
      }
      log.error('rules-missing', {
        missing,
        message: 'sipwall\'s kernel rules were removed or changed by another tool (SIP may have reached the PBX unjudged since the last check): putting them back',
      });
      const report = await installRules(opts, runner);
      noPrefilter.clear();
      for (const f of report.prefilterFallback) noPrefilter.add(f.family);
      const refilled = report.setsCreated.length > 0 ? this.#o.refill(report.setsCreated) : 0;
      this.#restored++;
      this.#failing = false;
      log.log('warn', 'rules-restored', { setsCreated: report.setsCreated, bansRefilled: refilled }, true); // never held back, like the error before it
    } catch (e) {
      // Logged once per run of failures, not every period.
      if (!this.#failing) log.error('rules-check-failed', { message: (e as Error).message, code: errorCode(e), retry: `every ${this.#o.everyMs / 1000} s` });
      this.#failing = true;
    }
  }
}
