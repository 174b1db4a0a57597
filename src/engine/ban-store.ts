// Bans that survive a restart and a reboot.
//
// The ban table is written to one JSON file: to a temporary file in the same
// directory, fsync'd, renamed over the old one, and the directory fsync'd, so
// a crash or power cut leaves either the old file or the new one, never half
// of one (rename(2) is atomic within a filesystem). Saves are batched: a
// change marks the store dirty and a timer writes at most once per interval,
// so kill -9 during a ban storm loses the bans of one interval and of the
// save in flight (a full table takes a few seconds to write).
//
// A save while serving runs in the background: it runs on the thread that
// answers the queue, and a full table (262,144 bans) took 1.9 s to write
// and fsync in one piece, during which the kernel queue overflowed (fail
// mode for everyone) exactly when the PBX was under attack. So the table is
// copied and turned into text a slice per turn of the event loop, and
// written and fsync'd (file and directory) by libuv's threads; only the
// rename runs on this thread. The save at stop is
// synchronous and supersedes one in flight (a generation number: a
// background save renames its file only if no later save began).
//
// Ended bans are saved too while they are remembered for escalation
// (bans.forgetAfterSeconds): a restart must not forgive a repeat offender.
//
// At start the file is read back, expired bans are dropped, and the caller
// refills the kernel sets. A file that cannot be read as ours is moved aside
// (with a warning), never a reason not to start; an entry that cannot be
// used is skipped, whatever it holds; a ban is never longer than
// bans.maxSeconds from now.

import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BanRecord, BanTable } from './ban-table.js';
import { REASON_NAMES } from './reasons.js';
import { type SourceKey, sourceKeyFromText, sourceKeyText } from './source-key.js';

const FORMAT = 'sipwall-bans';
const VERSION = 1;
/** Entries turned into text per turn of the event loop in a background save. */
const CHUNK = 4096;
/** Offences beyond this are counted as this (escalation is capped by bans.maxSeconds long before). */
const MAX_OFFENCES = 1000;

export interface StoredBan {
  source: string;
  until: number;
  since: number;
  offences: number;
  reason: string;
  rule: string;
  hits: number;
}

export interface RestoreResult {
  /** Bans put back in the table (not expired). */
  restored: Array<{ source: string; secondsLeft: number }>;
  /** Ended bans put back as history, for escalation. */
  remembered: number;
  expired: number;
  /** Entries that could not be used (not an object, bad source text, bad numbers, a repeat). */
  skipped: number;
  /** Set when the file was unusable and moved aside: the new path. */
  movedAside: string | null;
  /** A problem worth a warning line. */
  warning: string | null;
}

export interface BanStoreOptions {
  file: string;
  v6PrefixLength: number;
  /** Most time between a change and its save (ms). */
  intervalMs?: number;
  now?: () => number;
  onError?: (err: Error) => void;
}

export class BanStore {
  readonly file: string;
  private readonly v6: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly onError: (err: Error) => void;
  private timer: NodeJS.Timeout | null = null;
  private table: BanTable | null = null;
  /** Bumped by every save begun: a background save renames its file only if it is still the newest. */
  private generation = 0;
  /** The background save in flight, if any. */
  private inFlight: Promise<void> | null = null;
  /** A change arrived during a background save: save again after it. */
  private again = false;
  /** Saves done, for status and tests. */
  saves = 0;

  constructor(opts: BanStoreOptions) {
    this.file = opts.file;
    this.v6 = opts.v6PrefixLength;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? (() => undefined);
  }

  /** Reads the file into `table`. A missing file is an empty store; an unusable one is moved aside. */
  restore(table: BanTable): RestoreResult {
    this.table = table;
    const res: RestoreResult = { restored: [], remembered: 0, expired: 0, skipped: 0, movedAside: null, warning: null };
    this.removeStaleTemps();
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return res;
      res.warning = `cannot read ${this.file}: ${(e as Error).message}; starting with no saved bans`;
      return res;
    }
    let doc: { format?: unknown; version?: unknown; bans?: unknown };
    try {
      doc = JSON.parse(text) as typeof doc;
      if (doc === null || typeof doc !== 'object' || doc.format !== FORMAT || !Array.isArray(doc.bans)) {
        throw new Error(`not a ${FORMAT} file`);
      }
    } catch (e) {
      res.movedAside = this.moveAside('corrupt');
      res.warning = `${this.file} is corrupt or truncated (${(e as Error).message}); moved aside to ${res.movedAside ?? '(could not move)'}, starting with no saved bans`;
      return res;
    }
    if (doc.version !== VERSION) {
      res.movedAside = this.moveAside(`v${String(doc.version).replace(/[^0-9A-Za-z]/g, '').slice(0, 8)}`);
      res.warning = `${this.file} was written by another version of sipwall (format version ${JSON.stringify(doc.version)}, this one reads ${VERSION}); moved aside to ${res.movedAside ?? '(could not move)'}, starting with no saved bans`;
      return res;
    }
    const now = this.now();
    const p = table.policy;
    // A source listed twice: the later entry wins, in the later place. A
    // background save walks the table while bans go on (writeInBackground),
    // and a source banned again meanwhile moves to the end, where the walk
    // meets it a second time: its first entry is the record from before
    // that ban.
    const latest = new Map<SourceKey, BanRecord>();
    for (const b of doc.bans as unknown[]) {
      try {
        const rec = this.entry(b, now, p.maxSeconds * 1000);
        if (rec === null) {
          res.skipped++;
          continue;
        }
        if (latest.delete(rec[0])) res.skipped++;
        latest.set(rec[0], rec[1]);
      } catch {
        res.skipped++; // whatever the entry holds, the others still count
      }
    }
    // The file lists the oldest first (the table's order): put back in that
    // order, so the table, full, forgets the oldest again, not the newest.
    for (const [key, r] of latest) {
      if (r.until > now) {
        res.restored.push({ source: sourceKeyText(key, this.v6), secondsLeft: Math.ceil((r.until - now) / 1000) });
      } else if (r.until + p.forgetAfterSeconds * 1000 > now) {
        res.remembered++;
      } else {
        res.expired++;
        continue;
      }
      table.restore(key, r);
    }
    return res;
  }

  /** One entry of the file as a record, or null if it cannot be used. `until` is capped at now + maxMs. */
  private entry(b: unknown, now: number, maxMs: number): [SourceKey, BanRecord] | null {
    if (b === null || typeof b !== 'object' || Array.isArray(b)) return null;
    const s = b as Partial<StoredBan>;
    const key = typeof s.source === 'string' ? sourceKeyFromText(s.source, this.v6) : null;
    const nums = [s.until, s.since, s.offences, s.hits].every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0);
    const reason = typeof s.reason === 'string' ? REASON_NAMES.indexOf(s.reason) : -1;
    if (key === null || !nums || reason < 0 || typeof s.rule !== 'string') return null;
    const until = Math.min(s.until!, now + maxMs);
    return [key, { until, since: Math.min(s.since!, until), offences: Math.min(MAX_OFFENCES, Math.max(1, Math.floor(s.offences!))), reason, ruleId: s.rule.slice(0, 64), hits: Math.floor(s.hits!) }];
  }

  /** Something changed: save within intervalMs (one save for any number of changes), in the background. */
  changed(): void {
    if (this.timer !== null || this.table === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.saveInBackground();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Resolves once no background save is in flight (tests, status). */
  async idle(): Promise<void> {
    while (this.inFlight !== null) await this.inFlight;
  }

  /** Saves now, synchronously (at stop), superseding a background save in flight. Errors go to onError; never throws. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.again = false;
    try {
      this.save();
    } catch (e) {
      this.onError(e as Error);
    }
  }

  /** Writes the bans atomically and synchronously: temp file, fsync, rename, fsync of the directory. */
  save(): void {
    const table = this.table;
    if (table === null) return;
    const gen = ++this.generation;
    const now = this.now();
    const data = `${head(now)}${this.text(table.records(now))}${TAIL}`;
    const tmp = this.tmpName(gen);
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeFileSync(fd, data); // loops until all is written, or throws (ENOSPC, EFBIG)
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      removeQuietly(tmp);
      throw e;
    }
    this.commit(tmp);
  }

  /** Puts a written and fsync'd temp file in place of the state file; `syncDir`: and fsyncs the directory here. */
  private commit(tmp: string, syncDir = true): void {
    try {
      renameSync(tmp, this.file);
    } catch (e) {
      removeQuietly(tmp);
      throw e;
    }
    this.saves++;
    if (syncDir) fsyncDir(dirname(this.file));
  }

  private saveInBackground(): void {
    if (this.inFlight !== null) {
      this.again = true;
      return;
    }
    this.inFlight = this.writeInBackground()
      .catch((e: unknown) => this.onError(e as Error))
      .finally(() => {
        this.inFlight = null;
        if (this.again) {
          this.again = false;
          this.changed();
        }
      });
  }

  private async writeInBackground(): Promise<void> {
    const table = this.table;
    if (table === null) return;
    const gen = ++this.generation;
    const now = this.now();
    // A slice of the table per turn: its Map iterator stays valid while
    // packets change the table in between (ban-table.ts). A record moved
    // meanwhile may be copied twice; restore keeps the last.
    // Each slice is written as it is made: one 30 MB string for a full table
    // would cost its encoding (75 ms) in one turn.
    // The walk visits records added after it began: under bans faster than
    // the disk takes them it would chase the end of the table and never
    // finish. It stops after twice as many as the table held when it began:
    // room for the sources banned again meanwhile (moved to the end, where
    // their new record is), an end under a flood. What it leaves, each added
    // with a changed() call (so `again` is set), goes in the next save.
    const records = table.records(now, 2 * table.size + CHUNK);
    const tmp = this.tmpName(gen);
    let superseded = false;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.write(head(now));
        let first = true;
        for (let done = false; !done && !superseded; ) {
          const slice: Array<[SourceKey, BanRecord]> = [];
          for (let n = 0; n < CHUNK; n++) {
            const it = records.next();
            if (it.done === true) {
              done = true;
              break;
            }
            slice.push(it.value);
          }
          if (slice.length > 0) {
            // Turned into text in this turn: the records cannot change under it.
            await fh.write(`${first ? '' : ','}${this.text(slice)}`);
            first = false;
          }
          superseded = gen !== this.generation; // a later save (the one at stop) took over
        }
        if (!superseded) {
          await fh.write(TAIL);
          await fh.sync();
        }
      } finally {
        await fh.close();
      }
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    // The check and the rename in one turn: no other save can come between.
    if (superseded || gen !== this.generation) {
      removeQuietly(tmp);
      return;
    }
    this.commit(tmp, false);
    const dir = await open(dirname(this.file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Records as JSON objects joined by commas. */
  private text(records: Iterable<[SourceKey, BanRecord]>): string {
    const out: string[] = [];
    for (const [key, r] of records) {
      const b: StoredBan = { source: sourceKeyText(key, this.v6), until: r.until, since: r.since, offences: r.offences, reason: REASON_NAMES[r.reason] ?? 'ok', rule: r.ruleId, hits: r.hits };
      out.push(JSON.stringify(b));
    }
    return out.join(',');
  }

  private tmpName(gen: number): string {
    return `${this.file}.tmp-${process.pid}-${gen}`;
  }

  /** Temporary files of saves that a kill cut short (any process: only one sipwall runs). */
  private removeStaleTemps(): void {
    const dir = dirname(this.file);
    const prefix = `${basename(this.file)}.tmp-`;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith(prefix)) removeQuietly(join(dir, n));
  }

  private moveAside(why: string): string | null {
    const to = `${this.file}.${why}-${new Date(this.now()).toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(this.file, to);
      return to;
    } catch {
      return null;
    }
  }
}

/** The file is head(now), the bans as JSON objects joined by commas, TAIL. */
function head(now: number): string {
  return `{"format":"${FORMAT}","version":${VERSION},"savedAt":${now},"bans":[`;
}
const TAIL = ']}\n';

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone, or never made
  }
}

/** The rename is durable only once the directory entry is on disk. */
function fsyncDir(dir: string): void {
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
