// Validation of a configuration object, key by key, with messages that name
// the file, the key path and what is wrong. A hostile or broken file is
// refused as a whole: sipwall never runs on half a configuration.

import { createRequire } from 'node:module';
import { ConfigError } from '../errors.js';
import { hex, MAX_TLS_PORTS } from '../kernel/kernel-options.js';
import { parseListenAddress } from '../metrics/listen-address.js';
import { parseCidr, v4MappedForm } from '../packet/address.js';
import { FINGERPRINT_FIELDS, type Config } from './config-types.js';

type Spec =
  | { t: 'bool' }
  | { t: 'int'; min: number; max: number }
  | { t: 'num'; min: number; max: number }
  | { t: 'enum'; values: readonly string[] }
  | { t: 'text'; maxLen: number; minLen?: number; printable?: boolean }
  | { t: 'list'; of: Spec; maxItems: number }
  | { t: 'object'; fields: Record<string, Spec>; required?: readonly string[] }
  | { t: 'map'; of: Spec; maxEntries: number }
  | { t: 'cidr' }
  | { t: 'hostname' }
  | { t: 'fingerprint' }
  | { t: 'digits'; minLen: number; maxLen: number }
  | { t: 'dial-prefix' };

const DAY = 86400;
const action: Spec = { t: 'enum', values: ['accept', 'drop'] };
const rate: Spec = {
  t: 'object',
  fields: { limit: { t: 'int', min: 1, max: 65000 }, windowSeconds: { t: 'int', min: 1, max: 7 * DAY } },
  required: ['limit', 'windowSeconds'],
};
const note: Spec = { t: 'text', maxLen: 500 };
const digits: Spec = { t: 'digits', minLen: 1, maxLen: 15 };
/** E.164 country codes are 1-3 digits (ITU-T E.164 §6.2.1). */
const countryCode: Spec = { t: 'digits', minLen: 1, maxLen: 3 };
/** An international access code ("00", "011") or "+". */
const dialPrefix: Spec = { t: 'dial-prefix' };

/** The whole schema. Rule maps are keyed by a rule id (see RULE_ID). */
export const SCHEMA: Spec = {
  t: 'object',
  fields: {
    secretHosts: { t: 'list', of: { t: 'hostname' }, maxItems: 64 },
    trustSeconds: { t: 'int', min: 1, max: 30 * DAY },
    trusted: { t: 'list', of: { t: 'cidr' }, maxItems: 4096 },
    blocked: { t: 'list', of: { t: 'cidr' }, maxItems: 65536 },
    ipv6PrefixLength: { t: 'int', min: 32, max: 128 },
    userAgents: {
      t: 'map',
      maxEntries: 1024,
      of: {
        t: 'object',
        fields: { match: { t: 'text', minLen: 3, maxLen: 128, printable: true }, enabled: { t: 'bool' }, note },
        required: ['match'],
      },
    },
    fingerprints: { t: 'map', maxEntries: 1024, of: { t: 'fingerprint' } },
    rateLimits: {
      t: 'object',
      fields: { register: rate, invite: rate, all: rate },
      required: ['register', 'invite', 'all'],
    },
    bans: {
      t: 'object',
      fields: {
        baseSeconds: { t: 'int', min: 1, max: 365 * DAY },
        factor: { t: 'num', min: 1, max: 100 },
        maxSeconds: { t: 'int', min: 1, max: 365 * DAY },
        forgetAfterSeconds: { t: 'int', min: 0, max: 365 * DAY },
        maxEntries: { t: 'int', min: 1024, max: 10_000_000 },
      },
      required: ['baseSeconds', 'factor', 'maxSeconds', 'forgetAfterSeconds', 'maxEntries'],
    },
    answers: {
      t: 'object',
      fields: {
        watch: { t: 'bool' },
        authFailures: { t: 'list', of: rate, maxItems: 4 },
        unknownUsers: { t: 'list', of: rate, maxItems: 4 },
        unknownUsersBeforeAuth: rate,
        unknownUserStatus: { t: 'list', of: { t: 'int', min: 400, max: 699 }, maxItems: 16 },
        trustAfterAuthSeconds: { t: 'int', min: 0, max: 30 * DAY },
        maxPending: { t: 'int', min: 1024, max: 4_194_304 },
      },
      required: ['watch', 'authFailures', 'unknownUsers', 'unknownUsersBeforeAuth', 'unknownUserStatus', 'trustAfterAuthSeconds', 'maxPending'],
    },
    distinctUsers: {
      t: 'object',
      fields: { limit: { t: 'int', min: 1, max: 64 }, windowSeconds: { t: 'int', min: 1, max: DAY } },
      required: ['limit', 'windowSeconds'],
    },
    tollFraud: {
      t: 'object',
      fields: {
        enabled: { t: 'bool' },
        internationalPrefixes: { t: 'list', of: dialPrefix, maxItems: 16 },
        blockInternational: { t: 'bool' },
        homeCountryCodes: { t: 'list', of: countryCode, maxItems: 64 },
        highRiskCountryCodes: { t: 'list', of: countryCode, maxItems: 1024 },
        premiumPrefixes: { t: 'list', of: digits, maxItems: 1024 },
        stripPrefixes: { t: 'list', of: digits, maxItems: 16 },
        maxConcurrentCalls: { t: 'int', min: 0, max: 63 },
        callSeconds: { t: 'int', min: 60, max: DAY },
      },
      required: [
        'enabled', 'internationalPrefixes', 'blockInternational', 'homeCountryCodes', 'highRiskCountryCodes',
        'premiumPrefixes', 'stripPrefixes', 'maxConcurrentCalls', 'callSeconds',
      ],
    },
    strict: { t: 'bool' },
    policy: {
      t: 'object',
      fields: { stun: action, nonSip: action, invalidSip: action },
      required: ['stun', 'nonSip', 'invalidSip'],
    },
    // lru-cache keys its entries in a V8 Map, which throws past 2**24
    // (16,777,216) entries: above that a spoofed flood would make every new
    // source's lookup throw on the packet path.
    maxTrackedSources: { t: 'int', min: 1024, max: 16_000_000 },
    stateFile: { t: 'text', minLen: 2, maxLen: 4096, printable: true },
    control: {
      t: 'object',
      fields: { socket: { t: 'text', minLen: 2, maxLen: 100, printable: true }, group: { t: 'text', maxLen: 32, printable: true } },
      required: ['socket', 'group'],
    },
    inline: {
      t: 'object',
      fields: {
        ports: { t: 'text', minLen: 1, maxLen: 11, printable: true },
        tlsPorts: { t: 'list', of: { t: 'int', min: 1, max: 65535 }, maxItems: MAX_TLS_PORTS },
        ruleCheckSeconds: { t: 'int', min: 0, max: 3600 },
        queueNum: { t: 'int', min: 0, max: 65535 },
        failOpen: { t: 'bool' },
        trustSkipQueue: { t: 'bool' },
        trustMark: { t: 'int', min: 1, max: 0xffffffff },
        watchMark: { t: 'int', min: 1, max: 0xffffffff },
        banScope: { t: 'enum', values: ['sip-ports', 'all'] },
        ipv6: { t: 'bool' },
        banSetMaxElem: { t: 'int', min: 1024, max: 16_777_216 },
        queueMaxLen: { t: 'int', min: 1, max: 1_048_576 },
        copyRange: { t: 'int', min: 64, max: 65535 },
        socketBufferBytes: { t: 'int', min: 65536, max: 1 << 30 },
        batchSize: { t: 'int', min: 1, max: 1024 },
        hotMaxEntries: { t: 'int', min: 1024, max: 1_048_576 }, // native/hot-table.h's ceiling (queue-options.ts)
      },
      required: [
        'ports', 'tlsPorts', 'ruleCheckSeconds', 'queueNum', 'failOpen', 'trustSkipQueue', 'trustMark', 'watchMark', 'banScope', 'ipv6', 'banSetMaxElem',
        'queueMaxLen', 'copyRange', 'socketBufferBytes', 'batchSize', 'hotMaxEntries',
      ],
    },
    metrics: {
      t: 'object',
      fields: { enabled: { t: 'bool' }, listen: { t: 'text', minLen: 3, maxLen: 64, printable: true } },
      required: ['enabled', 'listen'],
    },
  },
  required: [
    'secretHosts', 'trustSeconds', 'trusted', 'blocked', 'ipv6PrefixLength', 'userAgents', 'fingerprints',
    'rateLimits', 'bans', 'answers', 'distinctUsers', 'tollFraud', 'strict', 'policy', 'maxTrackedSources', 'stateFile', 'control', 'inline', 'metrics',
  ],
};

export const FINGERPRINT: Spec = {
  t: 'object',
  fields: {
    field: { t: 'enum', values: FINGERPRINT_FIELDS },
    contains: { t: 'text', minLen: 1, maxLen: 256, printable: true },
    equals: { t: 'text', minLen: 1, maxLen: 256, printable: true },
    prefix: { t: 'text', minLen: 1, maxLen: 256, printable: true },
    regex: { t: 'text', minLen: 1, maxLen: 256, printable: true },
    enabled: { t: 'bool' },
    note,
  },
  required: ['field'],
};
const MATCHERS = ['contains', 'equals', 'prefix', 'regex'] as const;

/** Rule ids are used as metric label values and sample directory names: keep them tame. */
export const RULE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
// RFC 1123 host name: labels of letters, digits and hyphens, no leading/trailing hyphen.
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const PRINTABLE = /^[\x20-\x7e]*$/;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  // JSON has no Infinity or NaN (YAML's .inf, .nan, 1e400): it would print them as null.
  return typeof v === 'number' ? `number ${String(v)}` : `${typeof v} ${JSON.stringify(v)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validation context: which file to blame for a key path, and where warnings go. */
export interface ValidateContext {
  fileFor(path: string): string;
  /** Tests: the time all regex proofs share (REGEX_TOTAL_MS). */
  regexTotalMs?: number;
  /** Whether a file fileFor returned is the shipped defaults (not the admin's). */
  isDefaults?(file: string): boolean;
  warnings: string[];
}

/** `shown`: the key as the message names it, when not `path` itself (see shownKey). */
function fail(ctx: ValidateContext, path: string, problem: string, shown = path): never {
  throw new ConfigError(ctx.fileFor(path), shown, problem);
}

/** A key as shown in a message: quoted when it is not a plain name ("secretHosts ", "", one with dots). */
function shownKey(path: string, key: string): string {
  return join(path, /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key));
}

/** "a.b.c" as YAML would nest it: "a: {b: {c: ...}}". */
function nestedForm(key: string): string {
  const parts = key.split('.');
  return parts.slice(0, -1).reduceRight((inner, p) => `${p}: {${inner}}`, `${parts[parts.length - 1]}: ...`);
}

/**
 * A problem between two keys: named on `b` when only `b` is the admin's
 * doing (it comes from another file than `a`, which then is the shipped
 * defaults'), so the message points at the line the admin wrote.
 */
function failBetween(ctx: ValidateContext, a: string, aProblem: string, b: string, bProblem: string): never {
  const fa = ctx.fileFor(a);
  const fb = ctx.fileFor(b);
  if (fa !== fb && ctx.isDefaults?.(fa) === true) throw new ConfigError(fb, b, bProblem);
  throw new ConfigError(fa, a, aProblem);
}

function check(spec: Spec, v: unknown, path: string, ctx: ValidateContext): void {
  switch (spec.t) {
    case 'bool':
      if (typeof v !== 'boolean') fail(ctx, path, `must be true or false, got ${typeName(v)}`);
      return;
    case 'int':
    case 'num':
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(ctx, path, `must be a number, got ${typeName(v)}`);
      if (spec.t === 'int' && !Number.isInteger(v)) fail(ctx, path, `must be a whole number, got ${v}`);
      if (v < spec.min || v > spec.max) fail(ctx, path, `must be between ${spec.min} and ${spec.max}, got ${v}`);
      return;
    case 'enum':
      if (typeof v !== 'string' || !spec.values.includes(v)) {
        fail(ctx, path, `must be one of ${spec.values.join(', ')}, got ${typeName(v)}`);
      }
      return;
    case 'text':
      if (typeof v !== 'string') fail(ctx, path, `must be text, got ${typeName(v)}`);
      if (v.length < (spec.minLen ?? 0)) fail(ctx, path, `must be at least ${spec.minLen} characters`);
      if (v.length > spec.maxLen) fail(ctx, path, `must be at most ${spec.maxLen} characters`);
      if (spec.printable === true && !PRINTABLE.test(v)) fail(ctx, path, 'must be printable ASCII');
      return;
    case 'hostname':
      if (typeof v !== 'string' || !HOSTNAME.test(v)) {
        fail(ctx, path, `must be a host name (letters, digits, hyphens and dots), got ${typeName(v)}`);
      }
      return;
    case 'cidr': {
      if (typeof v !== 'string') fail(ctx, path, `must be an IP address or CIDR, got ${typeName(v)}`);
      const c = parseCidr(v);
      if (c === null) fail(ctx, path, `is not a valid IPv4/IPv6 address or CIDR: ${JSON.stringify(v)}`);
      if (c.hostBitsSet) ctx.warnings.push(`${ctx.fileFor(path)}: ${path}: ${v} has host bits set beyond /${c.prefix}; the network is used`);
      const v4 = v4MappedForm(c);
      if (v4 !== null) fail(ctx, path, `is an IPv4-mapped IPv6 address, which no packet carries as its source; write ${v4} instead`);
      return;
    }
    case 'list':
      if (!Array.isArray(v)) fail(ctx, path, `must be a list, got ${typeName(v)}`);
      if (v.length > spec.maxItems) fail(ctx, path, `has ${v.length} items, at most ${spec.maxItems} allowed`);
      v.forEach((item, i) => check(spec.of, item, `${path}[${i}]`, ctx));
      return;
    case 'object': {
      if (!isPlainObject(v)) fail(ctx, path, `must be a map, got ${typeName(v)}`);
      for (const k of Object.keys(v)) {
        // hasOwn: a key named __proto__ or constructor must not find Object.prototype's members.
        const sub = Object.hasOwn(spec.fields, k) ? spec.fields[k] : undefined;
        if (sub === undefined) {
          const dotted = k.includes('.') ? `; a key with dots is not a path here: write it nested, as ${nestedForm(k)}` : '';
          fail(ctx, join(path, k), `unknown key (known keys here: ${Object.keys(spec.fields).join(', ')})${dotted}`, shownKey(path, k));
        }
        check(sub, v[k], join(path, k), ctx);
      }
      for (const k of spec.required ?? []) {
        if (!(k in v)) fail(ctx, join(path, k), 'is required');
      }
      return;
    }
    case 'map': {
      if (!isPlainObject(v)) fail(ctx, path, `must be a map of rules by id, got ${typeName(v)}`);
      const keys = Object.keys(v);
      if (keys.length > spec.maxEntries) fail(ctx, path, `has ${keys.length} entries, at most ${spec.maxEntries} allowed`);
      for (const k of keys) {
        if (!RULE_ID.test(k)) fail(ctx, join(path, k), 'rule id must be lowercase letters, digits and hyphens (at most 63)', shownKey(path, k));
        check(spec.of, v[k], join(path, k), ctx);
      }
      return;
    }
    case 'digits':
      // YAML reads 0900 as the number 900: dialling prefixes must be quoted.
      if (typeof v === 'number') fail(ctx, path, `must be quoted digits ('${String(v)}'): unquoted, YAML reads numbers and drops leading zeros`);
      if (typeof v !== 'string' || !/^[0-9]+$/.test(v)) fail(ctx, path, `must be digits, got ${typeName(v)}`);
      if (v.length < spec.minLen || v.length > spec.maxLen) fail(ctx, path, `must be ${spec.minLen} to ${spec.maxLen} digits, got ${v.length}`);
      return;
    case 'dial-prefix':
      if (typeof v === 'number') fail(ctx, path, `must be quoted ('${String(v)}'): unquoted, YAML reads numbers and drops leading zeros`);
      if (typeof v !== 'string' || !/^(\+|[0-9]{1,4})$/.test(v)) fail(ctx, path, `must be "+" or 1 to 4 digits, got ${typeName(v)}`);
      return;
    case 'fingerprint': {
      check(FINGERPRINT, v, path, ctx);
      const rule = v as Record<string, unknown>;
      const set = MATCHERS.filter((m) => m in rule);
      if (set.length !== 1) fail(ctx, path, `needs exactly one of ${MATCHERS.join(', ')} (has ${set.length === 0 ? 'none' : set.join(', ')})`);
      if (typeof rule['regex'] === 'string') checkRegex(rule['regex'], join(path, 'regex'), ctx);
      return;
    }
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * A regex from the admin runs on attacker-controlled bytes, so one with
 * catastrophic backtracking (e.g. `(a+)+$`, `(a|a)*b`) is a denial of service
 * waiting for its input. recheck proves a pattern safe or refuses it.
 */
/**
 * All the regex proofs of one load share this much time. One regex may take
 * REGEX_PROOF_MS; 1024 fingerprints of that kind would hold `start` (and a
 * reload's worker) for half an hour before a word.
 */
const REGEX_TOTAL_MS = 20_000;
const REGEX_PROOF_MS = 2000;
/** When the current validateConfig() call's proofs must end. */
let regexDeadline = 0;

function checkRegex(source: string, path: string, ctx: ValidateContext): void {
  try {
    new RegExp(source, 'i');
  } catch (err) {
    fail(ctx, path, `is not a valid regular expression: ${(err as Error).message}`);
  }
  // Loaded on first use: recheck is large, and most configs have no regex.
  const { checkSync } = createRequire(import.meta.url)('recheck') as typeof import('recheck');
  const spent = `not checked: the regexes of this file took the ${(ctx.regexTotalMs ?? REGEX_TOTAL_MS) / 1000} s all of them may take to be proven safe; use fewer or simpler ones (or contains/equals/prefix matches)`;
  const left = regexDeadline - Date.now();
  if (left < 1) fail(ctx, path, spent);
  const limit = Math.min(REGEX_PROOF_MS, left);
  const res = checkSync(source, 'i', { timeout: limit });
  if (res.status === 'vulnerable') {
    fail(ctx, path, `can backtrack catastrophically (${res.complexity.summary}); rewrite it without nested or overlapping repetition`);
  }
  if (res.status !== 'safe') fail(ctx, path, limit < REGEX_PROOF_MS ? spent : 'could not be proven free of catastrophic backtracking; simplify it');
}

/** Throws ConfigError on the first problem; returns the object typed as a Config. */
export function validateConfig(obj: unknown, ctx: ValidateContext): Config {
  regexDeadline = Date.now() + (ctx.regexTotalMs ?? REGEX_TOTAL_MS);
  check(SCHEMA, obj, '', ctx);
  const cfg = obj as Config;
  // `enabled` and `note` are optional in the file; fill them so the rest of the code need not ask.
  for (const r of [...Object.values(cfg.userAgents), ...Object.values(cfg.fingerprints)]) {
    r.enabled ??= true;
    r.note ??= '';
  }
  // A path to a file of its own, not a directory (both are files sipwall creates and removes or replaces).
  if (!cfg.control.socket.startsWith('/') || cfg.control.socket.endsWith('/')) fail(ctx, 'control.socket', `must be an absolute path to a file, got ${JSON.stringify(cfg.control.socket)}`);
  if (cfg.control.group !== '' && !/^[a-z_][a-z0-9_-]*\$?$/.test(cfg.control.group)) fail(ctx, 'control.group', `is not a valid group name: ${JSON.stringify(cfg.control.group)}`);
  if (!cfg.stateFile.startsWith('/') || cfg.stateFile.endsWith('/')) fail(ctx, 'stateFile', `must be an absolute path to a file, got ${JSON.stringify(cfg.stateFile)}`);
  if (!/^\d{1,5}([-:]\d{1,5})?$/.test(cfg.inline.ports)) fail(ctx, 'inline.ports', `must be a port or a range like 5060-5082, got ${JSON.stringify(cfg.inline.ports)}`);
  const [lo, hi = lo] = cfg.inline.ports.split(/[-:]/).map(Number) as [number, number?];
  if (lo < 1 || hi > 65535 || lo > hi) fail(ctx, 'inline.ports', `must be an ordered range within 1-65535, got ${cfg.inline.ports}`);
  if (parseListenAddress(cfg.metrics.listen) === null) {
    fail(ctx, 'metrics.listen', `must be an IP address and a port like 127.0.0.1:9467 or [::1]:9467, got ${JSON.stringify(cfg.metrics.listen)}`);
  }
  if (cfg.bans.maxSeconds < cfg.bans.baseSeconds) {
    failBetween(ctx, 'bans.maxSeconds', `must be at least bans.baseSeconds (${cfg.bans.baseSeconds})`, 'bans.baseSeconds', `must be at most bans.maxSeconds (${cfg.bans.maxSeconds})`);
  }
  // Here, not only where the kernel rules are built, so `sipwall check --config` refuses it too.
  // Overlapping bits would make every watched flow look trusted (mark/mark), or the reverse.
  const { trustMark, watchMark } = cfg.inline;
  if ((trustMark & watchMark) !== 0) {
    failBetween(
      ctx,
      'inline.watchMark', `shares bits with inline.trustMark (${hex(watchMark)} & ${hex(trustMark)}): pick disjoint bits`,
      'inline.trustMark', `shares bits with inline.watchMark (${hex(trustMark)} & ${hex(watchMark)}): pick disjoint bits`,
    );
  }
  cfg.trusted.forEach((text, i) => {
    if (/\/0$/.test(text)) {
      ctx.warnings.push(`${ctx.fileFor(`trusted[${i}]`)}: trusted[${i}]: ${text} trusts every ${text.includes(':') ? 'IPv6' : 'IPv4'} source, which turns every rule off for them`);
    }
  });
  cfg.blocked.forEach((text, i) => {
    if (/\/0$/.test(text)) {
      ctx.warnings.push(`${ctx.fileFor(`blocked[${i}]`)}: blocked[${i}]: ${text} blocks every ${text.includes(':') ? 'IPv6' : 'IPv4'} source: no SIP reaches the PBX over ${text.includes(':') ? 'IPv6' : 'IPv4'}, trusted sources included`);
    }
  });
  return cfg;
}
