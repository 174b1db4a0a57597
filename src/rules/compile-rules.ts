// Turns a validated Config into what the engine runs: byte needles instead of
// strings, CIDR sets, milliseconds. Done once per (re)load, never per packet.

import { CidrSet, parseCidr } from '../packet/address.js';
import { NeedleSet } from '../engine/needle-set.js';
import { lowerBytes } from '../sip/bytes.js';
import { FINGERPRINT_FIELDS, type Action, type Config, type FingerprintField } from './config-types.js';

export const MATCH_CONTAINS = 0;
export const MATCH_EQUALS = 1;
export const MATCH_PREFIX = 2;
export const MATCH_REGEX = 3;

export interface CompiledFingerprint {
  id: string;
  field: FingerprintField;
  /** The field's index in FINGERPRINT_FIELDS: the packet path switches on a number, not a string. */
  fieldId: number;
  kind: number;
  needle: Uint8Array;
  regex: RegExp | null;
}

export interface CompiledUserAgent {
  id: string;
  needle: Uint8Array;
}

export interface CompiledRateLimit {
  limit: number;
  windowMs: number;
}

export interface CompiledRules {
  config: Config;
  secretHosts: Uint8Array[];
  trustMs: number;
  trusted: CidrSet;
  blocked: CidrSet;
  /**
   * The /64s holding a blocked IPv6 network narrower than /64. The native
   * hot table keys IPv6 by /64: a trust stored there for a neighbour would
   * answer the blocked host's packets in C, before the engine's blocked
   * check (VerdictLoop.applyTrust leaves those /64s to the engine).
   */
  blockedInside64: CidrSet;
  ipv6PrefixLength: number;
  userAgents: CompiledUserAgent[];
  /** All enabled User-Agent needles, matched in one pass; index = userAgents index. */
  userAgentSet: NeedleSet;
  fingerprints: CompiledFingerprint[];
  /** Index RL_REGISTER, RL_INVITE, RL_ALL. */
  rateLimits: CompiledRateLimit[];
  bans: Config['bans'];
  strict: boolean;
  acceptStun: boolean;
  acceptNonSip: boolean;
  acceptInvalidSip: boolean;
  maxTrackedSources: number;
  answers: CompiledAnswers;
  distinctUsers: { limit: number; windowMs: number };
  toll: CompiledTollFraud;
}

export interface CompiledAnswers {
  watch: boolean;
  /**
   * Windows for the answers' RateTable: the authFailures windows first
   * (indexes 0 .. authWindows-1), then the unknownUsers windows, then the
   * unknownUsersBeforeAuth one (the last index). Each limit
   * is the configured one minus 1: RateTable.hit() reports the event that
   * goes past its limit, and the configured limit is the event that bans.
   */
  windows: CompiledRateLimit[];
  authWindows: number;
  /** unknownUser[status] is 1 for the statuses that mean "no such user". */
  unknownUser: Uint8Array;
  trustAfterAuthMs: number;
  maxPending: number;
}

/**
 * A prefix list indexed by its first byte: entry c holds the prefixes that
 * start with byte c, as ASCII bytes, longest first (so "011" wins over "0"
 * and "1900" over "19"). A number is compared only with the prefixes of its
 * own first digit: one array read instead of a walk over the whole list.
 */
export type PrefixIndex = ReadonlyArray<readonly Uint8Array[]>;

export interface CompiledTollFraud {
  enabled: boolean;
  internationalPrefixes: PrefixIndex;
  blockInternational: boolean;
  homeCountryCodes: PrefixIndex;
  highRiskCountryCodes: PrefixIndex;
  premiumPrefixes: PrefixIndex;
  stripPrefixes: PrefixIndex;
  maxConcurrentCalls: number;
  callMs: number;
}

export const RL_REGISTER = 0;
export const RL_INVITE = 1;
export const RL_ALL = 2;
export const RL_COUNT = 3;

function cidrSet(list: string[]): CidrSet {
  const set = new CidrSet();
  for (const text of list) {
    const c = parseCidr(text);
    // validateConfig has already refused anything parseCidr cannot read.
    if (c !== null) set.add(c);
  }
  return set;
}

/** The /64 of every IPv6 entry of `list` narrower than /64. */
function inside64(list: string[]): CidrSet {
  const set = new CidrSet();
  for (const text of list) {
    const c = parseCidr(text);
    if (c !== null && c.family === 6 && c.prefix > 64) set.add({ ...c, prefix: 64 });
  }
  return set;
}

const accepts = (a: Action): boolean => a === 'accept';

export function compileRules(config: Config): CompiledRules {
  const userAgents: CompiledUserAgent[] = [];
  for (const [id, r] of Object.entries(config.userAgents)) {
    if (r.enabled) userAgents.push({ id, needle: lowerBytes(r.match) });
  }
  const fingerprints: CompiledFingerprint[] = [];
  for (const [id, r] of Object.entries(config.fingerprints)) {
    if (!r.enabled) continue;
    const fieldId = FINGERPRINT_FIELDS.indexOf(r.field);
    if (r.regex !== undefined) {
      fingerprints.push({ id, field: r.field, fieldId, kind: MATCH_REGEX, needle: new Uint8Array(0), regex: new RegExp(r.regex, 'i') });
    } else {
      const [kind, text] =
        r.equals !== undefined ? [MATCH_EQUALS, r.equals] : r.prefix !== undefined ? [MATCH_PREFIX, r.prefix] : [MATCH_CONTAINS, r.contains ?? ''];
      fingerprints.push({ id, field: r.field, fieldId, kind, needle: lowerBytes(text), regex: null });
    }
  }
  const rl = config.rateLimits;
  return {
    config,
    secretHosts: config.secretHosts.map((h) => lowerBytes(h)),
    trustMs: config.trustSeconds * 1000,
    trusted: cidrSet(config.trusted),
    blocked: cidrSet(config.blocked),
    blockedInside64: inside64(config.blocked),
    ipv6PrefixLength: config.ipv6PrefixLength,
    userAgents,
    userAgentSet: new NeedleSet(userAgents.map((u) => u.needle)),
    fingerprints,
    rateLimits: [rl.register, rl.invite, rl.all].map((r) => ({ limit: r.limit, windowMs: r.windowSeconds * 1000 })),
    bans: config.bans,
    strict: config.strict,
    acceptStun: accepts(config.policy.stun),
    acceptNonSip: accepts(config.policy.nonSip),
    acceptInvalidSip: accepts(config.policy.invalidSip),
    maxTrackedSources: config.maxTrackedSources,
    answers: compileAnswers(config.answers),
    distinctUsers: { limit: config.distinctUsers.limit, windowMs: config.distinctUsers.windowSeconds * 1000 },
    toll: {
      enabled: config.tollFraud.enabled,
      internationalPrefixes: prefixes(config.tollFraud.internationalPrefixes),
      blockInternational: config.tollFraud.blockInternational,
      homeCountryCodes: prefixes(config.tollFraud.homeCountryCodes),
      highRiskCountryCodes: prefixes(config.tollFraud.highRiskCountryCodes),
      premiumPrefixes: prefixes(config.tollFraud.premiumPrefixes),
      stripPrefixes: prefixes(config.tollFraud.stripPrefixes),
      maxConcurrentCalls: config.tollFraud.maxConcurrentCalls,
      callMs: config.tollFraud.callSeconds * 1000,
    },
  };
}

const NO_PREFIXES: readonly Uint8Array[] = Object.freeze([]);

function prefixes(list: string[]): PrefixIndex {
  const index: Array<readonly Uint8Array[]> = new Array<readonly Uint8Array[]>(256).fill(NO_PREFIXES);
  for (const p of [...list].sort((a, b) => b.length - a.length)) {
    if (p === '') continue; // validation refuses it; an empty prefix would match every number
    // Plain Uint8Arrays (not Buffers): one element kind at every compare site.
    const bytes = new Uint8Array(Buffer.from(p, 'latin1'));
    index[bytes[0]!] = [...index[bytes[0]!]!, bytes];
  }
  return index;
}

function compileAnswers(a: Config['answers']): CompiledAnswers {
  const w = (r: { limit: number; windowSeconds: number }): CompiledRateLimit => ({ limit: r.limit - 1, windowMs: r.windowSeconds * 1000 });
  const unknownUser = new Uint8Array(700);
  for (const s of a.unknownUserStatus) unknownUser[s] = 1;
  return {
    watch: a.watch,
    windows: [...a.authFailures.map(w), ...a.unknownUsers.map(w), w(a.unknownUsersBeforeAuth)],
    authWindows: a.authFailures.length,
    unknownUser,
    trustAfterAuthMs: a.trustAfterAuthSeconds * 1000,
    maxPending: a.maxPending,
  };
}
