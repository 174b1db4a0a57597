// Bans that survive a restart and a reboot.
//
// The ban table is written to one JSON file: to a temporary file in the same
// directory, fsync'd, renamed over the old one, and the directory fsync'd, so
// a crash or power cut leaves either the old file or the new one, never half
// of one (rename(2) is atomic within a filesystem). Saves are batched: a
// change marks the store dirty and a timer writes at most once per interval,
// so kill -9 during a ban storm loses at most one interval of bans. At start
// the file is read back, expired bans are dropped, and the caller refills the
// kernel sets. A file that cannot be read as ours is moved aside (with a
// warning), never a reason not to start.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BanRecord, BanTable } from './ban-table.js';
import { REASON_NAMES } from './reasons.js';
import { sourceKeyFromText, sourceKeyText } from './source-key.js';

const FORMAT = 'sipwall-bans';
const VERSION = 1;

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
  expired: number;
  /** Entries that could not be used (bad source text, bad numbers). */
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
    const res: RestoreResult = { restored: [], expired: 0, skipped: 0, movedAside: null, warning: null };
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
      if (doc === null || typeof doc !== 'object' || doc.format !== FORMAT || doc.version !== VERSION || !Array.isArray(doc.bans)) {
        throw new Error(`not a ${FORMAT} v${VERSION} file`);
      }
    } catch (e) {
      res.movedAside = this.moveAside();
      res.warning = `${this.file} is corrupt or truncated (${(e as Error).message}); moved aside to ${res.movedAside ?? '(could not move)'}, starting with no saved bans`;
      return res;
    }
    const now = this.now();
    for (const b of doc.bans as unknown[]) {
      const s = b as Partial<StoredBan>;
      const key = typeof s.source === 'string' ? sourceKeyFromText(s.source, this.v6) : null;
      const nums = [s.until, s.since, s.offences, s.hits].every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0);
      const reason = typeof s.reason === 'string' ? REASON_NAMES.indexOf(s.reason) : -1;
      if (key === null || !nums || reason < 0 || typeof s.rule !== 'string') {
        res.skipped++;
        continue;
      }
      if (s.until! <= now) {
        res.expired++;
        continue;
      }
      const rec: BanRecord = { until: s.until!, since: s.since!, offences: Math.max(1, Math.floor(s.offences!)), reason, ruleId: s.rule.slice(0, 64), hits: s.hits! };
      table.restore(key, rec);
      res.restored.push({ source: sourceKeyText(key, this.v6), secondsLeft: Math.ceil((rec.until - now) / 1000) });
    }
    return res;
  }

  /** Something changed: save within intervalMs (one save for any number of changes). */
  changed(): void {
    if (this.timer !== null || this.table === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.trySave();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Saves now (at stop). Errors go to onError; never throws. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.trySave();
  }

  private trySave(): void {
    try {
      this.save();
    } catch (e) {
      this.onError(e as Error);
    }
  }

  /** Writes the active bans atomically: temp file, fsync, rename, fsync of the directory. */
  save(): void {
    const table = this.table;
    if (table === null) return;
    const now = this.now();
    const bans: StoredBan[] = [];
    for (const [key, r] of table.entries(now)) {
      bans.push({ source: sourceKeyText(key, this.v6), until: r.until, since: r.since, offences: r.offences, reason: REASON_NAMES[r.reason] ?? 'ok', rule: r.ruleId, hits: r.hits });
    }
    const data = `${JSON.stringify({ format: FORMAT, version: VERSION, savedAt: now, bans })}\n`;
    const tmp = `${this.file}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    // The rename is durable only once the directory entry is on disk.
    const dfd = openSync(dirname(this.file), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    this.saves++;
  }

  private moveAside(): string | null {
    const to = `${this.file}.corrupt-${new Date(this.now()).toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(this.file, to);
      return to;
    } catch {
      return null;
    }
  }
}
