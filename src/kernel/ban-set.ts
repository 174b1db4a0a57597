// Bans into the kernel's ipsets within milliseconds, without a process per ban.
//
// One long-lived ipset child takes "add SET CIDR timeout N -exist" / "del SET
// CIDR -exist" lines on its stdin. It runs in ipset's interactive mode
// ("ipset -"), not "ipset restore": restore aggregates consecutive add/del
// lines of one set into a single netlink message and sends it only when the
// command or set changes or at EOF (libipset session.c, ipset_cmd()), so a
// ban could sit unapplied indefinitely; and restore exits at the first failed
// line ("Hash is full" during a flood would kill it over and over). Interactive
// mode commits each line at once and reports an error without exiting.
//
// Acknowledgement: interactive mode prints the prompt "ipset> " before reading
// each line. Under `stdbuf -o0` (stdout unbuffered) and with stderr merged into
// stdout, each prompt after the first marks one line done, and any text before
// it is that line's error. So we know which bans are applied, can replay the
// unacknowledged ones after the child dies (add/del with -exist are
// idempotent), and flushed() can tell when the kernel has everything.
//
// Nothing here throws into the caller once constructed: add()/remove() return
// false for a rejected ban (bad address, closed, queue full) and every failure
// goes to onError and the counters. A ban that does not reach the kernel is
// not a hole: the source's packets still reach the queue, where the engine
// drops them; it only costs the kernel-side fast path.

import type { ChildProcess } from 'node:child_process';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { KernelError } from '../errors.js';
import { CommandRunner, DEFAULT_RUNNER, resolveBinary } from './command-runner.js';
import { DEFAULT_KERNEL_OPTIONS, IPSET_MAX_TIMEOUT, validateKernelOptions } from './kernel-options.js';

export interface BanSetOptions {
  /** IPv4 set name (default sipwall-ban4). */
  set4?: string;
  /** IPv6 set name (default sipwall-ban6). */
  set6?: string;
  /** Accept IPv6 bans (default true); false when the IPv6 set is not installed. */
  ipv6?: boolean;
  runner?: CommandRunner;
  /** Called for every failure (bad address, rejected line, child death); the first queue overflow of a burst. */
  onError?: (err: KernelError) => void;
  /** Distinct addresses waiting to be written (default 65536); beyond it add() returns false. */
  maxQueue?: number;
  /** Lines written but not yet acknowledged (default 256). */
  maxInFlight?: number;
  /** Respawn delay after the child dies: doubles from min to max, back to min after a line succeeds. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

export interface BanEntry {
  /** As ipset prints it: "1.2.3.4" for a host, "10.0.0.0/8", "2001:db8::/64". */
  cidr: string;
  /** Whole seconds left as the kernel reports them; 0 for an entry without timeout or about to expire. */
  secondsLeft: number;
}

export interface BanSetStats {
  /** Lines the kernel accepted. */
  applied: number;
  /** Lines ipset rejected, and bans refused before reaching it (bad address, IPv6 off). */
  failed: number;
  /** Bans dropped because the queue was full or the set closed before they were written. */
  dropped: number;
  /** Times the ipset child was restarted. */
  respawns: number;
  queued: number;
  inFlight: number;
}

interface Op {
  key: string;
  del: boolean;
  set: string;
  cidr: string;
  /** performance.now() ms when the ban ends (add only). */
  deadline: number;
}

const PROMPT = 'ipset> ';
const SAFE_PATH = /^[A-Za-z0-9_./+-]+$/;
/** Longest line of a set listing we read ("add SET CIDR timeout N" is under 100 bytes). */
const MAX_SAVE_LINE = 1024;
/** A scan of the largest set (inline.banSetMaxElem 16,777,216) reads some 700 MB: minutes, not the 30 s of a command. */
const SCAN_TIMEOUT_MS = 600_000;

/** Family of a ban address "ADDR" or "ADDR/PREFIX", or 0 when it is not one. */
export function cidrFamily(cidr: string): 0 | 4 | 6 {
  // Only address characters: ipset would otherwise resolve a host name (a
  // blocking DNS lookup) and a space or newline would inject a command.
  if (!/^[0-9A-Fa-f:.]+(?:\/\d{1,3})?$/.test(cidr)) return 0;
  const [addr = '', prefix] = cidr.split('/');
  const fam = isIP(addr);
  if (fam !== 4 && fam !== 6) return 0;
  if (prefix !== undefined) {
    const n = Number(prefix);
    // hash:net refuses /0 ("out of range 1-32"): a ban of everything is never meant.
    if (!Number.isInteger(n) || n < 1 || n > (fam === 4 ? 32 : 128)) return 0;
  }
  return fam;
}

/** ipset timeout for a ban ending at `deadline`: whole seconds, rounded up so the kernel never lifts it early, 1..IPSET_MAX_TIMEOUT. */
export function timeoutSeconds(deadline: number, now: number): number {
  const s = Math.ceil((deadline - now) / 1000);
  return Math.min(IPSET_MAX_TIMEOUT, Math.max(1, s));
}

/**
 * Bans longer than the kernel can hold one (IPSET_MAX_TIMEOUT, 24.8 days;
 * bans.maxSeconds allows a year) are added again every RENEW_EVERY_MS while
 * more than RENEW_ABOVE_S seconds remain: an entry added with the cap then
 * never lapses before its ban ends, and the last renewal, at most 23.8 days
 * from the end, holds it to the end. Shorter bans need none.
 */
export const RENEW_EVERY_MS = 86_400_000;
export const RENEW_ABOVE_S = IPSET_MAX_TIMEOUT - 2 * 86_400;

export function needsRenewal(secondsLeft: number): boolean {
  return secondsLeft > RENEW_ABOVE_S;
}

export class BanSet {
  readonly set4: string;
  readonly set6: string;
  readonly ipv6: boolean;
  readonly #runner: CommandRunner;
  readonly #onError: (err: KernelError) => void;
  readonly #maxQueue: number;
  readonly #maxInFlight: number;
  readonly #backoffMin: number;
  readonly #backoffMax: number;
  readonly #shell: string;

  /** Pending ops by address; re-setting moves the key to the end, so map order is latest-op order. */
  #queue = new Map<string, Op>();
  /**
   * Where #pump() stands in #queue, kept between pumps (see BanTable's
   * `evicting`): every op it has yielded was taken off the queue, and a Map
   * iterator skips deleted entries and visits added ones, so it yields the
   * oldest op. A fresh iterator per pump stepped over every op taken before,
   * which V8 leaves as holes until it rehashes: about 40 µs a ban with
   * 65,536 queued during a flood. Let go when the queue empties or is replaced.
   */
  #next: Iterator<[string, Op]> | null = null;
  #inFlight: Op[] = [];
  #child: ChildProcess | null = null;
  #out = '';
  #sawPrompt = false;
  #writable = true;
  #closed = false;
  #overflowing = false;
  #backoff: number;
  #respawnTimer: NodeJS.Timeout | null = null;
  #idleWaiters: Array<() => void> = [];
  #exitWaiters: Array<() => void> = [];
  #stats = { applied: 0, failed: 0, dropped: 0, respawns: 0 };

  /** Throws KernelError (naming the Debian package) when sh, stdbuf or ipset is missing, and ConfigError for bad set names. */
  constructor(opts: BanSetOptions = {}) {
    const v = validateKernelOptions({
      set4: opts.set4 ?? DEFAULT_KERNEL_OPTIONS.set4,
      set6: opts.set6 ?? DEFAULT_KERNEL_OPTIONS.set6,
    });
    this.set4 = v.set4;
    this.set6 = v.set6;
    this.ipv6 = opts.ipv6 ?? true;
    this.#runner = opts.runner ?? DEFAULT_RUNNER;
    this.#onError = opts.onError ?? (() => undefined);
    this.#maxQueue = Math.max(1, opts.maxQueue ?? 65536);
    this.#maxInFlight = Math.max(1, opts.maxInFlight ?? 256);
    this.#backoffMin = Math.max(1, opts.backoffMinMs ?? 100);
    this.#backoffMax = Math.max(this.#backoffMin, opts.backoffMaxMs ?? 30_000);
    this.#backoff = this.#backoffMin;
    this.#runner.requireBinaries(['sh', 'stdbuf', 'ipset']);
    const stdbuf = resolveBinary('stdbuf') as string;
    const ipset = resolveBinary('ipset') as string;
    if (!SAFE_PATH.test(stdbuf) || !SAFE_PATH.test(ipset)) {
      throw new KernelError(`unexpected characters in the path of stdbuf or ipset: ${stdbuf} ${ipset}`);
    }
    this.#shell = `exec ${stdbuf} -o0 ${ipset} - 2>&1`;
    this.#spawn();
  }

  /** Pid of the ipset child (undefined while it is being restarted), for `sipwall status`. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get stats(): BanSetStats {
    return { ...this.#stats, queued: this.#queue.size, inFlight: this.#inFlight.length };
  }

  /**
   * Ban `cidr` ("1.2.3.4", "10.0.0.0/8", "2001:db8:1:2::/64", as given) for
   * `seconds` from now; a repeat refreshes the timeout. Returns at once: false
   * when refused (reported via onError), true when queued for the kernel.
   */
  add(cidr: string, seconds: number): boolean {
    if (!(typeof seconds === 'number' && seconds > 0 && Number.isFinite(seconds))) {
      return this.#refuse(`ban of ${String(cidr)}: duration must be a positive number of seconds, got ${String(seconds)}`);
    }
    return this.#enqueue(cidr, false, performance.now() + seconds * 1000);
  }

  /**
   * Adds many bans, a slice at a time, the kernel caught up between slices
   * (flushed()): the queue takes maxQueue changes at most and refuses the
   * rest, so a restart restoring 262,144 saved bans, or a recreated set
   * refilled, would otherwise lose every one past the first 65,536. Each
   * ban's `untilMs` (Date.now() time) is turned into seconds when the ban
   * is queued, not when the list was made. `onBehind` is told when the
   * kernel has not caught up after a minute (the next slice goes anyway).
   * Resolves with how many were accepted; stops at close().
   */
  addAll(bans: ReadonlyArray<readonly [cidr: string, untilMs: number]>, onBehind?: (queued: number, of: number) => void): Promise<number> {
    return this.#inSlices(
      bans.length,
      (j, now) => {
        const [cidr, until] = bans[j]!;
        const seconds = Math.ceil((until - now) / 1000);
        return seconds > 0 && this.add(cidr, seconds);
      },
      onBehind,
    );
  }

  /** Lifts many bans (the trust of a network holding thousands), in slices as addAll() adds them. */
  removeAll(cidrs: readonly string[], onBehind?: (queued: number, of: number) => void): Promise<number> {
    return this.#inSlices(cidrs.length, (j) => this.remove(cidrs[j]!), onBehind);
  }

  async #inSlices(count: number, one: (j: number, now: number) => boolean, onBehind?: (queued: number, of: number) => void): Promise<number> {
    const slice = Math.max(1, Math.min(16_384, this.#maxQueue));
    let accepted = 0;
    for (let i = 0; i < count && !this.#closed; i += slice) {
      if (i > 0 && !(await this.flushed(60_000))) onBehind?.(i, count);
      const now = Date.now();
      for (let j = i; j < Math.min(i + slice, count) && !this.#closed; j++) if (one(j, now)) accepted++;
    }
    return accepted;
  }

  /** Lift a ban (a no-op in the kernel when absent). Same return contract as add(). */
  remove(cidr: string): boolean {
    return this.#enqueue(cidr, true, 0);
  }

  /** Resolves true once every accepted add/remove is acknowledged by the kernel, false after timeoutMs. */
  flushed(timeoutMs = 10_000): Promise<boolean> {
    if (this.#isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      this.#idleWaiters.push(done);
    });
  }

  /**
   * Visits every ban in the kernel sets (`ipset list SET -output save`), a
   * pipe read (at most 64 KiB, some 1,700 entries) at a time, each followed
   * by a setImmediate, so that a full set never holds the verdict loop:
   * parsed in one piece, 262,144 entries held it for over half a second.
   * The queue's socket is polled after at most two reads (a read handled in
   * the poll phase is followed by one in the check phase that ends it). The
   * listing is never kept whole. Resolves with the number of entries visited.
   */
  async scan(visit: (e: BanEntry) => void): Promise<number> {
    let n = 0;
    for (const set of this.#sets()) {
      const head = `add ${set} `;
      let carry: Buffer | null = null;
      const line = (buf: Buffer, s: number, e: number): void => {
        const entry = parseSaveLine(buf.toString('latin1', s, e), head);
        if (entry === null) return;
        n++;
        visit(entry);
      };
      const r = await this.#runner.stream(
        ['ipset', 'list', set, '-output', 'save'],
        (chunk) => {
          const buf: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
          let s = 0;
          for (let lf = buf.indexOf(0x0a, s); lf >= 0; lf = buf.indexOf(0x0a, s)) {
            line(buf, s, lf);
            s = lf + 1;
          }
          // A line is some 40 bytes: a remainder past MAX_SAVE_LINE is no line of ours.
          carry = s < buf.length && buf.length - s <= MAX_SAVE_LINE ? Buffer.from(buf.subarray(s)) : null;
          return nextTurn();
        },
        { timeoutMs: SCAN_TIMEOUT_MS },
      );
      const rest = carry as Buffer | null; // set in the callback: TypeScript cannot see it
      if (rest !== null) line(rest, 0, rest.length);
      if (r.code !== 0) {
        if (/does not exist/.test(r.stderr)) continue;
        throw new KernelError(`ipset list ${set} failed: ${r.stderr.trim()}`);
      }
    }
    return n;
  }

  /** Whether the kernel set holds exactly `cidr` (`ipset test`): a network ban is confirmed by it. */
  async has(cidr: string): Promise<boolean> {
    const fam = cidrFamily(cidr);
    if (fam === 0 || (fam === 6 && !this.ipv6)) return false;
    const r = await this.#runner.run(['ipset', 'test', this.#setOf(fam), cidr]);
    if (r.code === 0) return true;
    if (/is NOT in set/.test(r.stderr)) return false;
    throw new KernelError(`ipset test ${cidr} failed: ${r.stderr.trim()}`);
  }

  /** Entries in the kernel sets, from their headers (`ipset list -t`): no entry is read. */
  async size(): Promise<number> {
    let n = 0;
    for (const set of this.#sets()) {
      const r = await this.#runner.run(['ipset', 'list', set, '-t']);
      if (r.code !== 0) {
        if (/does not exist/.test(r.stderr)) continue;
        throw new KernelError(`ipset list ${set} -t failed: ${r.stderr.trim()}`);
      }
      n += Number(/^Number of entries: (\d+)$/m.exec(r.stdout)?.[1] ?? 0);
    }
    return n;
  }

  /** Current bans in the kernel (both sets); see scan(). */
  async list(): Promise<BanEntry[]> {
    const entries: BanEntry[] = [];
    await this.scan((e) => entries.push(e));
    return entries;
  }

  /**
   * Write what is pending (waiting at most flushTimeoutMs), then end the
   * child with "quit". Later add()/remove() calls return false.
   */
  async close(flushTimeoutMs = 2000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#child !== null) await this.flushed(flushTimeoutMs);
    if (this.#respawnTimer !== null) clearTimeout(this.#respawnTimer);
    this.#respawnTimer = null;
    this.#stats.dropped += this.#queue.size + this.#inFlight.length;
    this.#queue.clear();
    this.#next = null;
    this.#inFlight = [];
    const child = this.#child;
    if (child !== null) {
      const exited = new Promise<void>((resolve) => this.#exitWaiters.push(resolve));
      child.stdin?.end('quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #refuse(message: string): false {
    this.#stats.failed++;
    this.#report(new KernelError(message));
    return false;
  }

  #report(err: KernelError): void {
    try {
      this.#onError(err);
    } catch {
      // A failing error callback must not break the ban path.
    }
  }

  #enqueue(cidr: string, del: boolean, deadline: number): boolean {
    if (this.#closed) {
      this.#stats.dropped++;
      return false;
    }
    const fam = typeof cidr === 'string' ? cidrFamily(cidr) : 0;
    if (fam === 0) return this.#refuse(`not an IP address or CIDR: ${JSON.stringify(cidr)}`);
    if (fam === 6 && !this.ipv6) return this.#refuse(`IPv6 ban of ${cidr} while IPv6 is off`);
    if (!this.#queue.has(cidr) && this.#queue.size >= this.#maxQueue) {
      this.#stats.dropped++;
      if (!this.#overflowing) {
        this.#overflowing = true;
        this.#report(new KernelError(`ban queue full (${this.#maxQueue} pending); dropping bans until the ipset child catches up`));
      }
      return false;
    }
    this.#queue.delete(cidr);
    this.#queue.set(cidr, { key: cidr, del, set: this.#setOf(fam), cidr, deadline });
    this.#pump();
    return true;
  }

  /** The kernel sets this BanSet fills: the IPv6 one only when IPv6 is on. */
  #sets(): string[] {
    return this.ipv6 ? [this.set4, this.set6] : [this.set4];
  }

  #setOf(fam: 4 | 6): string {
    return fam === 4 ? this.set4 : this.set6;
  }

  #isIdle(): boolean {
    return this.#queue.size === 0 && this.#inFlight.length === 0;
  }

  #pump(): void {
    const child = this.#child;
    if (child === null || child.stdin === null || !this.#writable) return;
    if (this.#queue.size < this.#maxQueue) this.#overflowing = false;
    let batch = '';
    const now = performance.now();
    while (this.#inFlight.length < this.#maxInFlight && this.#queue.size > 0) {
      let it = (this.#next ??= this.#queue.entries()).next();
      if (it.done === true) it = (this.#next = this.#queue.entries()).next();
      const [key, op] = it.value as [string, Op];
      this.#queue.delete(key);
      this.#inFlight.push(op);
      batch += op.del
        ? `del ${op.set} ${op.cidr} -exist\n`
        : `add ${op.set} ${op.cidr} timeout ${timeoutSeconds(op.deadline, now)} -exist\n`;
    }
    if (this.#queue.size === 0) this.#next = null;
    if (batch === '') return;
    if (!child.stdin.write(batch)) {
      this.#writable = false;
      child.stdin.once('drain', () => {
        if (this.#child !== child) return;
        this.#writable = true;
        this.#pump();
      });
    }
  }

  #spawn(): void {
    this.#respawnTimer = null;
    if (this.#closed) return;
    let child: ChildProcess;
    try {
      child = this.#runner.spawn(['sh', '-c', this.#shell]);
    } catch (err) {
      this.#report(err instanceof KernelError ? err : new KernelError(`cannot start ipset: ${String(err)}`, { cause: err }));
      this.#scheduleRespawn();
      return;
    }
    this.#child = child;
    this.#out = '';
    this.#sawPrompt = false;
    this.#writable = true;
    let gone = false;
    const onGone = (why: string): void => {
      if (gone) return;
      gone = true;
      this.#childGone(child, why);
    };
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => this.#onOutput(text));
    // stderr is merged into stdout by the shell; anything here comes from
    // the runner's prefix (e.g. `ip netns exec` failing) and is reported.
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => this.#report(new KernelError(`ipset child: ${text.trim()}`)));
    child.stdin?.on('error', () => undefined);
    child.on('error', (err) => onGone(err.message));
    child.on('close', (code, signal) => onGone(signal !== null ? `signal ${signal}` : `exit status ${String(code)}`));
    this.#pump();
  }

  #onOutput(text: string): void {
    this.#out += text;
    for (;;) {
      const i = this.#out.indexOf(PROMPT);
      if (i < 0) break;
      const said = this.#out.slice(0, i).trim();
      this.#out = this.#out.slice(i + PROMPT.length);
      if (!this.#sawPrompt) {
        // The prompt printed before the first line is read.
        this.#sawPrompt = true;
        if (said !== '') this.#report(new KernelError(`ipset: ${said}`));
        continue;
      }
      const op = this.#inFlight.shift();
      if (op === undefined) continue;
      if (said === '') {
        this.#stats.applied++;
        this.#backoff = this.#backoffMin;
      } else {
        this.#stats.failed++;
        this.#report(new KernelError(`ipset ${op.del ? 'del' : 'add'} ${op.set} ${op.cidr}: ${said.replace(/^ipset v[\d.]+: /, '')}`));
      }
    }
    // The last prompt is followed by nothing until the next line is read;
    // keep a possible partial prompt or message for the next chunk. Bound it:
    // ipset's messages are a line each, so a runaway buffer means garbage.
    if (this.#out.length > 65536) this.#out = this.#out.slice(-PROMPT.length);
    this.#pump();
    if (this.#isIdle()) for (const w of this.#idleWaiters.splice(0)) w();
  }

  #childGone(child: ChildProcess, why: string): void {
    if (this.#child !== child) return;
    this.#child = null;
    for (const w of this.#exitWaiters.splice(0)) w();
    if (this.#closed) return;
    const said = this.#out.trim();
    this.#report(new KernelError(`ipset child ended (${why})${said === '' ? '' : `: ${said}`}; restarting in ${this.#backoff} ms`));
    // Unacknowledged lines may or may not have been applied; they are
    // idempotent, so replay them first, unless a newer op for the address is queued.
    const replay = this.#inFlight.filter((op) => !this.#queue.has(op.key));
    this.#inFlight = [];
    if (replay.length > 0) {
      this.#queue = new Map([...replay.map((op): [string, Op] => [op.key, op]), ...this.#queue]);
      this.#next = null;
    }
    this.#scheduleRespawn();
  }

  #scheduleRespawn(): void {
    if (this.#closed || this.#respawnTimer !== null) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoffMax, this.#backoff * 2);
    this.#stats.respawns++;
    this.#respawnTimer = setTimeout(() => this.#spawn(), delay);
  }
}

/** Entries of `set` from `ipset save`/`list -output save` text. */
/** A ban from one line of `ipset list SET -output save` ("add SET CIDR timeout N"), or null for any other line. */
function parseSaveLine(line: string, head: string): BanEntry | null {
  if (!line.startsWith(head)) return null;
  const [cidr, ...rest] = line.slice(head.length).trim().split(/\s+/);
  if (cidr === undefined || cidr === '') return null;
  const t = rest.indexOf('timeout');
  const secs = t >= 0 ? Number(rest[t + 1]) : 0;
  return { cidr, secondsLeft: Number.isFinite(secs) ? secs : 0 };
}
