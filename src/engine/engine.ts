// The verdict engine: (decoded packet, state, now) -> (verdict, reason, side effects).
//
// Order, cheapest and most certain first (the contract):
//   1. blocked list            -> drop
//   2. banned source           -> drop
//   3. trusted list / trusted  -> accept (and mark the flow trusted)
//   4. payload classification  -> no payload, STUN, keep-alive, non-SIP, invalid SIP by policy
//   5. per SIP request: fingerprints and scanner User-Agents -> drop and ban
//   6. secret host named       -> accept and trust the source
//   7. rate limits             -> drop and ban
//   8. strict mode             -> drop requests that did not name a secret host
//   9. accept
// Time is passed in (`now`, ms) so tests drive windows and ban expiry exactly.
// Nothing here throws on packet input: the decoder and parser return codes.

import type { CompiledRules } from '../rules/compile-rules.js';
import { MATCH_CONTAINS, MATCH_EQUALS, MATCH_PREFIX, RL_ALL, RL_INVITE, RL_REGISTER } from '../rules/compile-rules.js';
import { CidrSet } from '../packet/address.js';
import { isStun } from '../packet/is-stun.js';
import { PROTO_TCP, type PacketView } from '../packet/packet-view.js';
import { equalsIgnoreCase, indexOfIgnoreCase, startsWithIgnoreCase } from '../sip/bytes.js';
import {
  H_FROM, H_TO, KIND_KEEPALIVE, KIND_RESPONSE, M_INVITE, M_REGISTER, PARSE_INCOMPLETE, PARSE_OK,
} from '../sip/constants.js';
import { parseSip } from '../sip/parse-sip.js';
import { SipMessage } from '../sip/sip-message.js';
import { BanTable } from './ban-table.js';
import { Decision } from './decision.js';
import { looksLikeSip } from './looks-like-sip.js';
import {
  R_BANNED, R_BLOCKED, R_FINGERPRINT, R_INVALID_SIP, R_KEEPALIVE, R_NO_PAYLOAD, R_NON_SIP, R_OK, R_RATE_ALL,
  R_RATE_INVITE, R_RATE_REGISTER, R_RESPONSE, R_SCANNER_UA, R_SECRET_HOST, R_STRICT, R_STUN, R_TRUSTED,
  R_TRUSTED_LIST,
} from './reasons.js';
import { RateTable } from './rate-table.js';
import { sourceKey, type SourceKey } from './source-key.js';
import { TcpFlows } from './tcp-flows.js';
import { TrustTable } from './trust-table.js';
import { VERDICT_ACCEPT, VERDICT_ACCEPT_TRUST, VERDICT_DROP } from './verdicts.js';

// Scratch range filled by fieldRange(): module-level so matching allocates nothing.
let fs = -1;
let fe = -1;

function headerValue(msg: SipMessage, id: number): void {
  const h = msg.headers;
  for (let i = 0; i < msg.headerCount; i++) {
    if (h[i * 3] === id) {
      fs = h[i * 3 + 1]!;
      fe = h[i * 3 + 2]!;
      return;
    }
  }
  fs = fe = -1;
}

function fieldRange(msg: SipMessage, field: string): void {
  switch (field) {
    case 'requestUri': fs = msg.ruriStart; fe = msg.ruriEnd; return;
    case 'from': headerValue(msg, H_FROM); return;
    case 'fromName': fs = msg.fromNameStart; fe = msg.fromNameEnd; return;
    case 'fromUser': fs = msg.fromUserStart; fe = msg.fromUserEnd; return;
    case 'fromHost': fs = msg.fromHostStart; fe = msg.fromHostEnd; return;
    case 'to': headerValue(msg, H_TO); return;
    case 'toUser': fs = msg.toUserStart; fe = msg.toUserEnd; return;
    case 'toHost': fs = msg.toHostStart; fe = msg.toHostEnd; return;
    case 'contactHost': fs = msg.contactHostStart; fe = msg.contactHostEnd; return;
    case 'userAgent': fs = msg.userAgentStart; fe = msg.userAgentEnd; return;
    case 'callId': fs = msg.callIdStart; fe = msg.callIdEnd; return;
    default: fs = fe = -1;
  }
}

export interface EngineState {
  rates: RateTable;
  bans: BanTable;
  trust: TrustTable;
  flows: TcpFlows;
}

export class Engine {
  rules: CompiledRules;
  readonly rates: RateTable;
  readonly bans: BanTable;
  readonly trust: TrustTable;
  readonly flows: TcpFlows;
  /** Networks trusted at run time by the admin (sipwall trust CIDR), on top of the rules file's list; kept across reloads. */
  readonly extraTrusted = new CidrSet();
  private readonly msg = new SipMessage();

  constructor(rules: CompiledRules, state?: EngineState) {
    this.rules = rules;
    this.rates = state?.rates ?? new RateTable(rules.maxTrackedSources, rules.rateLimits);
    this.bans = state?.bans ?? new BanTable(rules.bans);
    this.trust = state?.trust ?? new TrustTable(Math.min(rules.maxTrackedSources, 1 << 20));
    this.flows = state?.flows ?? new TcpFlows();
  }

  /**
   * Swaps in new rules (reload) keeping bans, trust, rate counters and TCP
   * flows. Rate limits take their new values at once; counters carry over.
   */
  setRules(rules: CompiledRules): void {
    this.rules = rules;
    this.rates.limits.splice(0, this.rates.limits.length, ...rules.rateLimits);
    this.bans.policy = rules.bans;
  }

  keyOf(view: PacketView): SourceKey {
    return sourceKey(view.buf, view.srcOff, view.family as 4 | 6, this.rules.ipv6PrefixLength);
  }

  /** Decides one decoded packet (view from decodeIp with DECODE_OK). Fills `d`. */
  decide(view: PacketView, now: number, d: Decision): void {
    d.reset();
    const r = this.rules;
    const key = this.keyOf(view);
    d.source = key;
    const fam = view.family as 4 | 6;
    if (r.blocked.size > 0 && r.blocked.has(view.buf, view.srcOff, fam)) return this.set(d, VERDICT_DROP, R_BLOCKED);
    const ban = this.bans.active(key, now);
    if (ban !== null) return this.set(d, VERDICT_DROP, R_BANNED);
    if (r.trusted.size > 0 && r.trusted.has(view.buf, view.srcOff, fam)) return this.set(d, VERDICT_ACCEPT_TRUST, R_TRUSTED_LIST);
    if (this.extraTrusted.size > 0 && this.extraTrusted.has(view.buf, view.srcOff, fam)) return this.set(d, VERDICT_ACCEPT_TRUST, R_TRUSTED_LIST);
    if (this.trust.isTrusted(key, now)) return this.set(d, VERDICT_ACCEPT_TRUST, R_TRUSTED);
    if (view.proto === PROTO_TCP) {
      this.flows.segment(this, view, key, now, d);
      return;
    }
    if (view.payloadLen === 0) return this.set(d, VERDICT_ACCEPT, R_NO_PAYLOAD);
    this.decideDatagram(view, key, now, d);
  }

  /**
   * A UDP datagram holds one SIP message (RFC 3261 §18.1.1); bytes after its
   * Content-Length are discarded by the receiver (§18.3). We still evaluate
   * anything after it that parses as SIP, in case a PBX is more lenient.
   */
  private decideDatagram(view: PacketView, key: SourceKey, now: number, d: Decision): void {
    const buf = view.buf;
    const end = view.payloadOff + view.payloadLen;
    if (isStun(buf, view.payloadOff, view.payloadLen)) {
      return this.set(d, this.rules.acceptStun ? VERDICT_ACCEPT : VERDICT_DROP, R_STUN);
    }
    let off = view.payloadOff;
    const msg = this.msg;
    while (off < end) {
      const st = parseSip(buf, off, end, msg, false);
      if (st === PARSE_OK || (st === PARSE_INCOMPLETE && view.truncated && msg.bodyStart >= 0)) {
        // A datagram cut short by the queue's copy range still has whole headers: judge them.
        this.evaluate(msg, key, now, d);
        if (d.verdict === VERDICT_DROP || st !== PARSE_OK || msg.end <= off) return;
        off = msg.end;
        continue;
      }
      if (d.messages > 0 && !looksLikeSip(buf, off, end)) return; // trailing bytes after a whole message: discarded by the PBX
      this.classifyBad(buf, off, end, d);
      return;
    }
  }

  /** Non-SIP payload or malformed SIP: counted under its reason, verdict by policy. */
  classifyBad(buf: Buffer, off: number, end: number, d: Decision): void {
    if (looksLikeSip(buf, off, end)) this.set(d, this.rules.acceptInvalidSip ? VERDICT_ACCEPT : VERDICT_DROP, R_INVALID_SIP);
    else this.set(d, this.rules.acceptNonSip ? VERDICT_ACCEPT : VERDICT_DROP, R_NON_SIP);
  }

  /**
   * Evaluates one parsed SIP message from `key` and merges the outcome into
   * `d`: a drop wins over everything, a trust wins over a plain accept.
   */
  evaluate(msg: SipMessage, key: SourceKey, now: number, d: Decision): void {
    if (d.messages++ === 0) {
      d.kind = msg.kind;
      d.method = msg.method;
      d.status = msg.status;
    }
    if (msg.kind === KIND_KEEPALIVE) return this.merge(d, VERDICT_ACCEPT, R_KEEPALIVE, '');
    // Responses are always let through: a response only answers a request the
    // PBX sent (qualify OPTIONS to phones). Watching them is issue #6's work.
    if (msg.kind === KIND_RESPONSE) return this.merge(d, VERDICT_ACCEPT, R_RESPONSE, '');
    const r = this.rules;
    const buf = msg.buf;
    if (msg.userAgentStart >= 0) {
      const hit = r.userAgentSet.find(buf, msg.userAgentStart, msg.userAgentEnd);
      if (hit >= 0) return this.dropAndBan(d, key, now, R_SCANNER_UA, r.userAgents[hit]!.id);
    }
    for (let i = 0; i < r.fingerprints.length; i++) {
      const fp = r.fingerprints[i]!;
      fieldRange(msg, fp.field);
      if (fs < 0) continue;
      let hit: boolean;
      if (fp.kind === MATCH_CONTAINS) hit = indexOfIgnoreCase(buf, fs, fe, fp.needle) >= 0;
      else if (fp.kind === MATCH_EQUALS) hit = equalsIgnoreCase(buf, fs, fe, fp.needle);
      else if (fp.kind === MATCH_PREFIX) hit = startsWithIgnoreCase(buf, fs, fe, fp.needle);
      else hit = fp.regex!.test(buf.toString('latin1', fs, fe)); // admin regexes only; proven safe at load
      if (hit) return this.dropAndBan(d, key, now, R_FINGERPRINT, fp.id);
    }
    if (this.namesSecretHost(msg)) {
      const until = now + r.trustMs;
      this.trust.trust(key, until);
      d.trust = true;
      d.trustUntil = until;
      return this.merge(d, VERDICT_ACCEPT_TRUST, R_SECRET_HOST, '');
    }
    const slot = this.rates.slot(key);
    if (msg.method === M_REGISTER && this.rates.hit(slot, RL_REGISTER, now)) return this.dropAndBan(d, key, now, R_RATE_REGISTER, 'register');
    if (msg.method === M_INVITE && this.rates.hit(slot, RL_INVITE, now)) return this.dropAndBan(d, key, now, R_RATE_INVITE, 'invite');
    if (this.rates.hit(slot, RL_ALL, now)) return this.dropAndBan(d, key, now, R_RATE_ALL, 'all');
    if (r.strict) return this.merge(d, VERDICT_DROP, R_STRICT, '');
    this.merge(d, VERDICT_ACCEPT, R_OK, '');
  }

  /** The Request-URI host or the To host equals a secret host (the host part only, case-insensitive: RFC 3261 §19.1.4). */
  private namesSecretHost(msg: SipMessage): boolean {
    const hosts = this.rules.secretHosts;
    for (let i = 0; i < hosts.length; i++) {
      const h = hosts[i]!;
      if (msg.ruriHostStart >= 0 && equalsIgnoreCase(msg.buf, msg.ruriHostStart, msg.ruriHostEnd, h)) return true;
      if (msg.toHostStart >= 0 && equalsIgnoreCase(msg.buf, msg.toHostStart, msg.toHostEnd, h)) return true;
    }
    return false;
  }

  private dropAndBan(d: Decision, key: SourceKey, now: number, reason: number, ruleId: string): void {
    d.ban = true;
    d.banSeconds = this.bans.ban(key, now, reason, ruleId);
    d.verdict = VERDICT_DROP;
    d.reason = reason;
    d.ruleId = ruleId;
  }

  private set(d: Decision, verdict: number, reason: number): void {
    d.verdict = verdict;
    d.reason = reason;
  }

  private merge(d: Decision, verdict: number, reason: number, ruleId: string): void {
    if (d.verdict === VERDICT_DROP && d.messages > 1) return;
    if (verdict === VERDICT_ACCEPT && d.verdict === VERDICT_ACCEPT_TRUST && d.messages > 1) return;
    d.verdict = verdict;
    d.reason = reason;
    d.ruleId = ruleId;
  }
}
