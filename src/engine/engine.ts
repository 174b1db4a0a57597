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
  H_CONTACT, H_EXPIRES, H_REFER_TO, KIND_KEEPALIVE, KIND_REQUEST, KIND_RESPONSE, M_BYE, M_CANCEL, M_INVITE, M_REFER, M_REGISTER, PARSE_INCOMPLETE,
  PARSE_OK,
} from '../sip/constants.js';
import { contactRemoves, isZero } from '../sip/header-params.js';
import { parseSip } from '../sip/parse-sip.js';
import { SipMessage } from '../sip/sip-message.js';
import { A_USER_END, A_USER_START, ADDR, parseAddress, parseUri, URI_ANGLE } from '../sip/sip-uri.js';
import { BanTable } from './ban-table.js';
import { Decision } from './decision.js';
import { tollFraudRule } from './dialled-number.js';
import { hashBytes, hashU32 } from './hash-bytes.js';
import { PENDING_CREDENTIALS, PENDING_NO_LOGIN, PendingTable } from './pending-table.js';
import { SourceSets } from './source-sets.js';
import { isTlsRecord, looksLikeSip } from './looks-like-sip.js';
import {
  R_ANSWER, R_AUTH_FAILURES, R_AUTH_TRUST, R_BANNED, R_BLOCKED, R_CALL_LIMIT, R_DISTINCT_USERS, R_FINGERPRINT,
  R_INVALID_SIP, R_KEEPALIVE, R_NO_PAYLOAD, R_NON_SIP, R_OK, R_RATE_ALL, R_RATE_INVITE, R_RATE_REGISTER, R_RESPONSE,
  R_SCANNER_UA, R_SECRET_HOST, R_STRICT, R_STUN, R_TLS, R_TOLL_FRAUD, R_TRUSTED, R_TRUSTED_LIST, R_UNKNOWN_USERS,
} from './reasons.js';
import { RateTable } from './rate-table.js';
import { sourceKey, type SourceKey } from './source-key.js';
import { TcpFlows } from './tcp-flows.js';
import { TrustTable } from './trust-table.js';
import { VERDICT_ACCEPT, VERDICT_ACCEPT_TRUST, VERDICT_ACCEPT_WATCH, VERDICT_DROP, VERDICT_RANK } from './verdicts.js';

// Scratch range filled by fieldRange(): module-level so matching allocates nothing.
let fs = -1;
let fe = -1;

/** `fieldId`: the index in FINGERPRINT_FIELDS (CompiledFingerprint.fieldId). */
function fieldRange(msg: SipMessage, fieldId: number): void {
  switch (fieldId) {
    case 0: fs = msg.ruriStart; fe = msg.ruriEnd; return; // requestUri
    case 1: fs = msg.fromStart; fe = msg.fromEnd; return; // from (recorded past MAX_HEADERS, unlike msg.headers)
    case 2: fs = msg.fromNameStart; fe = msg.fromNameEnd; return; // fromName
    case 3: fs = msg.fromUserStart; fe = msg.fromUserEnd; return; // fromUser
    case 4: fs = msg.fromHostStart; fe = msg.fromHostEnd; return; // fromHost
    case 5: fs = msg.toStart; fe = msg.toEnd; return; // to
    case 6: fs = msg.toUserStart; fe = msg.toUserEnd; return; // toUser
    case 7: fs = msg.toHostStart; fe = msg.toHostEnd; return; // toHost
    case 8: fs = msg.contactHostStart; fe = msg.contactHostEnd; return; // contactHost
    case 9: fs = msg.userAgentStart; fe = msg.userAgentEnd; return; // userAgent
    case 10: fs = msg.callIdStart; fe = msg.callIdEnd; return; // callId
    default: fs = fe = -1;
  }
}

export interface EngineState {
  rates: RateTable;
  bans: BanTable;
  trust: TrustTable;
  flows: TcpFlows;
  behaviour?: Behaviour;
}

/** Sources whose users and calls are followed (distinctUsers, tollFraud.maxConcurrentCalls). */
const SETS_MAX_SOURCES = 32768;

/**
 * Sources trusted at once (secret host named, or authenticated). Trusted
 * sources are the PBX's own phones and trunks: tens of thousands is a large
 * site. One forgotten (least recently seen first) is only inspected again,
 * and trusted again by its next request naming the secret host. Sized
 * like maxTrackedSources it was a million-entry LRU, 16 MB of preallocated
 * arrays on the JS heap that every full collection marks in its pause.
 */
const TRUST_MAX_SOURCES = 65536;

/** Per-source state of the detections beyond signatures: answers, users tried, open calls. */
export class Behaviour {
  readonly pending: PendingTable;
  readonly answers: RateTable;
  readonly users: SourceSets;
  readonly calls: SourceSets;
  /** Sources that have authenticated lately (answers.unknownUsersBeforeAuth does not apply to them). */
  readonly authed: SourceSets;

  constructor(rules: CompiledRules, prev?: Behaviour) {
    const a = rules.answers;
    this.pending = prev !== undefined && prev.pending.max === a.maxPending ? prev.pending : new PendingTable(a.maxPending, PENDING_MS);
    const windows = a.windows.map((w) => ({ ...w }));
    if (prev !== undefined && prev.answers.limits.length === windows.length) {
      // Same windows: counters carry over, limits take their new values (as setRules does for rateLimits).
      this.answers = prev.answers;
      this.answers.limits.splice(0, windows.length, ...windows);
    } else {
      this.answers = new RateTable(Math.min(rules.maxTrackedSources, 1 << 18), windows);
    }
    const perUsers = rules.distinctUsers.limit + 1;
    this.users = prev !== undefined && prev.users.perSource === perUsers ? prev.users : new SourceSets(SETS_MAX_SOURCES, perUsers);
    const perCalls = Math.max(1, rules.toll.maxConcurrentCalls + 1);
    this.calls = prev !== undefined && prev.calls.perSource === perCalls ? prev.calls : new SourceSets(SETS_MAX_SOURCES, perCalls);
    this.authed = prev?.authed ?? new SourceSets(SETS_MAX_SOURCES, 1);
  }
}

/** How long a source counts as having authenticated after a 2xx to a REGISTER of it with credentials that added bindings. */
const AUTH_MEMORY_MS = 86_400_000;
/**
 * A REGISTER that removes bindings (RFC 3261 §10.2.2): "Expires: 0",
 * "Contact: *", or a Contact with ;expires=0. Among the recorded headers
 * (the first MAX_HEADERS, as many as chan_sip reads).
 */
function removesBindings(msg: SipMessage): boolean {
  const h = msg.headers;
  for (let i = 0; i < msg.headerCount; i++) {
    const id = h[i * 3]!;
    if (id === H_EXPIRES && isZero(msg.buf, h[i * 3 + 1]!, h[i * 3 + 2]!)) return true;
    if (id === H_CONTACT && contactRemoves(msg.buf, h[i * 3 + 1]!, h[i * 3 + 2]!)) return true;
  }
  return false;
}

/**
 * The toll-fraud rule the first Refer-To's URI user falls under ('' if none
 * or no Refer-To). A value parseAddress refuses is still read: chan_sip
 * takes what is inside <...> (get_in_brackets), so `x:y <sip:0046...@pbx>`,
 * `<sip:0046...@pbx> junk` or a display name ending in an escaped backslash
 * transfers to that number all the same.
 */
function referTollRule(msg: SipMessage, toll: CompiledRules['toll']): string {
  const h = msg.headers;
  const buf = msg.buf;
  for (let i = 0; i < msg.headerCount; i++) {
    if (h[i * 3] !== H_REFER_TO) continue;
    const s = h[i * 3 + 1]!;
    const e = h[i * 3 + 2]!;
    if (parseAddress(buf, s, e, false, true)) return ADDR[A_USER_START]! >= 0 ? tollFraudRule(buf, ADDR[A_USER_START]!, ADDR[A_USER_END]!, toll) : '';
    // Refused: which <...> a PBX takes is not certain (chan_sip's quote
    // reading differs from the grammar's), so every one is judged.
    for (let lt = s; lt < e; lt++) {
      if (buf[lt] !== 0x3c /* < */) continue;
      parseUri(buf, lt + 1, e, URI_ANGLE);
      const rule = ADDR[A_USER_START]! >= 0 ? tollFraudRule(buf, ADDR[A_USER_START]!, ADDR[A_USER_END]!, toll) : '';
      if (rule !== '') return rule;
    }
    return '';
  }
  return '';
}

/** The one value the `authed` set holds per source. */
const AUTHED = 1;

/** 64*T1: how long a request waits for its final answer (RFC 3261 §17.1.1.2 Timer B, §17.1.2.2 Timer F). */
const PENDING_MS = 32_000;

export class Engine {
  rules: CompiledRules;
  readonly rates: RateTable;
  readonly bans: BanTable;
  readonly trust: TrustTable;
  readonly flows: TcpFlows;
  behaviour: Behaviour;
  /** Networks trusted at run time by the admin (sipwall trust CIDR), on top of the rules file's list; kept across reloads. */
  readonly extraTrusted = new CidrSet();
  private readonly msg = new SipMessage();

  constructor(rules: CompiledRules, state?: EngineState) {
    this.rules = rules;
    this.rates = state?.rates ?? new RateTable(rules.maxTrackedSources, rules.rateLimits);
    this.bans = state?.bans ?? new BanTable(rules.bans);
    this.trust = state?.trust ?? new TrustTable(Math.min(rules.maxTrackedSources, TRUST_MAX_SOURCES));
    this.flows = state?.flows ?? new TcpFlows();
    this.behaviour = state?.behaviour ?? new Behaviour(rules);
  }

  /**
   * Swaps in new rules (reload) keeping bans, trust, rate counters and TCP
   * flows. Rate limits take their new values at once; counters carry over.
   */
  setRules(rules: CompiledRules): void {
    this.rules = rules;
    this.rates.limits.splice(0, this.rates.limits.length, ...rules.rateLimits);
    this.bans.policy = rules.bans;
    this.behaviour = new Behaviour(rules, this.behaviour);
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
    // Whether a request or response has been judged: only bytes after one
    // are trailing bytes the PBX discards. Bytes after CRLF keep-alives are
    // not: pjsip (Asterisk's chan_pjsip) strips leading CR and LF from a
    // datagram and parses the rest as its message, so "\r\n" before a
    // request must not turn the request into ignored trailing bytes.
    let judged = false;
    while (off < end) {
      const st = parseSip(buf, off, end, msg, false);
      if (st === PARSE_OK || (st === PARSE_INCOMPLETE && view.truncated && msg.bodyStart >= 0)) {
        // A datagram cut short by the queue's copy range still has whole headers: judge them.
        this.evaluate(msg, key, now, d);
        if (d.verdict === VERDICT_DROP || st !== PARSE_OK || msg.end <= off) return;
        if (msg.kind !== KIND_KEEPALIVE) judged = true;
        off = msg.end;
        continue;
      }
      if (judged && !looksLikeSip(buf, off, end)) return; // trailing bytes after a whole message: discarded by the PBX (RFC 3261 §18.3)
      this.classifyBad(buf, off, end, d);
      return;
    }
  }

  /**
   * Non-SIP payload or malformed SIP: counted under its reason, verdict by
   * policy. TLS is non-SIP with a reason of its own, so an admin who sees it
   * knows which key to set (inline.tlsPorts) rather than hunting garbage.
   */
  classifyBad(buf: Buffer, off: number, end: number, d: Decision): void {
    if (looksLikeSip(buf, off, end)) this.set(d, this.rules.acceptInvalidSip ? VERDICT_ACCEPT : VERDICT_DROP, R_INVALID_SIP);
    else this.set(d, this.rules.acceptNonSip ? VERDICT_ACCEPT : VERDICT_DROP, isTlsRecord(buf, off, end) ? R_TLS : R_NON_SIP);
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
      fieldRange(msg, fp.fieldId);
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
    // Beyond signatures (rules/README.md: answers, distinctUsers, tollFraud).
    const b = this.behaviour;
    let user = 0;
    // The Call-ID's hash names the call (call limit) and the transaction (answers): only computed for them.
    const callLimit = r.toll.enabled && r.toll.maxConcurrentCalls > 0;
    const call = (callLimit || r.answers.watch) && msg.callIdStart >= 0 ? hashBytes(buf, msg.callIdStart, msg.callIdEnd) : 0;
    if (msg.method === M_BYE || msg.method === M_CANCEL) {
      // The call ends only if the PBX says so: a 2xx to the BYE (RFC 3261
      // §15.1.2), or the 487 that a CANCEL taking effect gets the INVITE
      // (§9.2); one that matches no dialog gets a 481 and the call goes on.
      // answer() frees the place then; without watched answers, the request has to.
      if (callLimit && msg.callIdStart >= 0 && !r.answers.watch) b.calls.remove(key, call, now);
    } else if (msg.method === M_REFER && r.toll.enabled) {
      // A blind transfer (RFC 3515) asks the PBX to place the call itself:
      // chan_sip, with transfers allowed (its default), dials the Refer-To
      // user from its dialplan. One call into an IVR that takes guests is
      // then a way to the same numbers as an INVITE.
      const rule = referTollRule(msg, r.toll);
      if (rule !== '') return this.dropAndBan(d, key, now, R_TOLL_FRAUD, rule);
    } else if (msg.method === M_INVITE && r.toll.enabled) {
      // Every INVITE, in a dialog or not: a To tag must not buy a way past the number checks.
      if (msg.ruriUserStart >= 0) {
        const rule = tollFraudRule(buf, msg.ruriUserStart, msg.ruriUserEnd, r.toll);
        if (rule !== '') return this.dropAndBan(d, key, now, R_TOLL_FRAUD, rule);
      }
      // A call starts with an INVITE outside a dialog (no To tag, RFC 3261 §12.1); re-INVITEs are not new calls.
      if (callLimit && msg.callIdStart >= 0 && !msg.toHasTag) {
        if (!b.calls.admit(key, call, now, now + r.toll.callMs, r.toll.maxConcurrentCalls)) {
          return this.merge(d, VERDICT_DROP, R_CALL_LIMIT, 'call-limit');
        }
      }
    }
    // The user asked for: a REGISTER names it in To (its Request-URI is the domain, §10.2), other requests in the Request-URI.
    const reg = msg.method === M_REGISTER || msg.ruriUserStart < 0;
    let us = reg ? msg.toUserStart : msg.ruriUserStart;
    let ue = reg ? msg.toUserEnd : msg.ruriUserEnd;
    // A REGISTER whose To has no user ("To: <sip:1001>", "<sip:@1001>"):
    // Asterisk's chan_sip registers the peer named by the host then
    // (register_verify: name = domain), so that is the user tried.
    if (msg.method === M_REGISTER && ue <= us) {
      us = msg.toHostStart;
      ue = msg.toHostEnd;
    }
    if (us >= 0 && ue > us) {
      user = hashBytes(buf, us, ue);
      const du = r.distinctUsers;
      if (b.users.add(key, user, now, now + du.windowMs) > du.limit) return this.dropAndBan(d, key, now, R_DISTINCT_USERS, 'distinct-users');
    }
    const slot = this.rates.slot(key);
    if (msg.method === M_REGISTER && this.rates.hit(slot, RL_REGISTER, now)) return this.dropAndBan(d, key, now, R_RATE_REGISTER, 'register');
    if (msg.method === M_INVITE && this.rates.hit(slot, RL_INVITE, now)) return this.dropAndBan(d, key, now, R_RATE_INVITE, 'invite');
    if (this.rates.hit(slot, RL_ALL, now)) return this.dropAndBan(d, key, now, R_RATE_ALL, 'all');
    if (r.strict) return this.merge(d, VERDICT_DROP, R_STRICT, '');
    if (r.answers.watch && msg.callIdStart >= 0) {
      const credentials = msg.hasCredentials;
      // Only a REGISTER that adds bindings logs in when the PBX says 2xx (see answer()).
      const login = credentials && msg.method === M_REGISTER && !removesBindings(msg);
      const flags = (credentials ? PENDING_CREDENTIALS : 0) | (login ? 0 : PENDING_NO_LOGIN);
      b.pending.put(Engine.transaction(msg, call), key, now, flags, msg.method, user, call);
      // Its answers must be read, not only the 403/404 kind the kernel queues for everyone:
      // a 401/407 to credentials is a failed guess, a 2xx a login; an INVITE's failure or a
      // BYE's 2xx ends the call (call limit).
      if (credentials || (callLimit && (msg.method === M_INVITE || msg.method === M_BYE))) return this.merge(d, VERDICT_ACCEPT_WATCH, R_OK, '');
    }
    this.merge(d, VERDICT_ACCEPT, R_OK, '');
  }

  /**
   * The number naming a transaction: Call-ID (its hash `call`) and CSeq
   * number and method, which an answer copies (§8.2.6.2). Not the top Via's
   * branch, though §17.2.3 matches by it: pjsip and sofia-sip print their
   * answer's Via anew from what they parsed, so a branch given twice
   * (pjsip keeps the last), escaped (%2D comes back as -), bracketed or
   * after an empty Via element (sofia skips it) comes back other than it
   * went, the answer would match nothing, and a brute-forcer's failures
   * would go uncounted. One Call-ID and one CSeq per request (parse-sip.ts)
   * leave no such doubt.
   */
  private static transaction(msg: SipMessage, call: number): number {
    return hashU32(msg.cseqMethod, hashU32(msg.cseq, call));
  }

  /**
   * A packet leaving the PBX from a SIP port (observe only: always accepted).
   * Its destination is the remote party; answers to that party's pending
   * requests count toward the answer limits, and may ban it (d.ban, with
   * d.source the remote and d.peerIsDst set).
   */
  observe(view: PacketView, now: number, d: Decision): void {
    d.reset();
    d.peerIsDst = true;
    d.verdict = VERDICT_ACCEPT;
    d.reason = R_ANSWER;
    const r = this.rules;
    // The PBX's kernel says where its TCP connections start and end (tcp-flows.ts).
    if (view.proto === PROTO_TCP) this.flows.pbxSegment(view);
    if (!r.answers.watch || view.payloadLen === 0) return;
    const fam = view.family as 4 | 6;
    const key = sourceKey(view.buf, view.dstOff, fam, r.ipv6PrefixLength);
    d.source = key;
    // Trusted parties are not watched; banned ones are already out.
    if (r.trusted.size > 0 && r.trusted.has(view.buf, view.dstOff, fam)) return;
    if (this.extraTrusted.size > 0 && this.extraTrusted.has(view.buf, view.dstOff, fam)) return;
    // peek, not active(): an answer to a banned party is not a packet from it (BanRecord.hits).
    const ban = this.bans.peek(key);
    if (this.trust.isTrusted(key, now) || (ban !== undefined && ban.until > now)) return;
    const buf = view.buf;
    const end = view.payloadOff + view.payloadLen;
    const msg = this.msg;
    const stream = view.proto === PROTO_TCP;
    // A TCP segment is read only if it starts with a message: answers are
    // short and sent in one segment; one cut across two is not counted.
    let off = view.payloadOff;
    // Most of what a PBX sends counts for nothing here: provisional answers
    // (100 Trying, 180 Ringing) and its own requests other than BYE and
    // CANCEL (qualify OPTIONS, NOTIFY, INVITEs to phones). Their first
    // bytes tell, before any parsing.
    if (!stream && Engine.ignorableFromPbx(buf, off, end)) return;
    while (off < end && !d.ban) {
      // What the PBX sends: not strict (parse-sip.ts); the lone-CR check's cost would be the watching's.
      const st = parseSip(buf, off, end, msg, stream, false);
      if (st !== PARSE_OK || msg.end <= off) return;
      off = msg.end;
      if (msg.callIdStart < 0) continue;
      if (d.messages++ === 0) {
        d.kind = msg.kind;
        d.method = msg.method;
        d.status = msg.status;
      }
      if (msg.kind === KIND_REQUEST) {
        // The PBX ends a call of the remote party (BYE, CANCEL to it).
        if (msg.method === M_BYE || msg.method === M_CANCEL) this.behaviour.calls.remove(key, hashBytes(buf, msg.callIdStart, msg.callIdEnd), now);
        continue;
      }
      if (msg.kind === KIND_RESPONSE) this.answer(msg, key, now, d);
    }
  }

  /** A datagram from the PBX that no answer rule reads: "SIP/2.0 1xx", or a request that is not BYE or CANCEL. */
  private static ignorableFromPbx(buf: Buffer, s: number, e: number): boolean {
    if (e - s < 12) return false;
    const c0 = buf[s]!;
    if (c0 === 0x53 /* S */ && buf[s + 1] === 0x49 && buf[s + 2] === 0x50 && buf[s + 3] === 0x2f) {
      return buf[s + 7] === 0x20 && buf[s + 8] === 0x31; // "SIP/2.0 1"
    }
    // A request: its method token (case-sensitive, RFC 3261 §7.1) must be BYE or CANCEL to matter.
    const bye = c0 === 0x42 && buf[s + 1] === 0x59 && buf[s + 2] === 0x45 && buf[s + 3] === 0x20;
    const cancel = c0 === 0x43 && buf[s + 1] === 0x41 && buf[s + 2] === 0x4e && buf[s + 3] === 0x43 && buf[s + 4] === 0x45 && buf[s + 5] === 0x4c && buf[s + 6] === 0x20;
    // Anything else starting with an upper-case letter is another method; CRLF keep-alives and junk fall to the parser.
    return !bye && !cancel && c0 >= 0x41 && c0 <= 0x5a;
  }

  private answer(msg: SipMessage, key: SourceKey, now: number, d: Decision): void {
    const b = this.behaviour;
    const a = this.rules.answers;
    const status = msg.status;
    if (!b.pending.take(Engine.transaction(msg, hashBytes(msg.buf, msg.callIdStart, msg.callIdEnd)), key, now, status >= 200)) return;
    const credentials = (b.pending.flagsOut & PENDING_CREDENTIALS) !== 0;
    // The call ends with a failed INVITE (a CANCEL's 487 included) or an accepted BYE.
    if (b.pending.methodOut === M_INVITE && status >= 300) b.calls.remove(key, b.pending.callOut, now);
    else if (b.pending.methodOut === M_BYE && status >= 200 && status < 300) b.calls.remove(key, b.pending.callOut, now);
    let first = -1;
    let last = -1;
    let reason = 0;
    if (status === 403 || ((status === 401 || status === 407) && credentials)) {
      first = 0;
      last = a.authWindows;
      reason = R_AUTH_FAILURES;
    } else if (a.unknownUser[status] === 1) {
      // Sources that have authenticated count in the unknownUsers windows; the others also in the last, unknownUsersBeforeAuth.
      first = a.authWindows;
      last = b.authed.has(key, AUTHED, now) ? a.windows.length - 1 : a.windows.length;
      reason = R_UNKNOWN_USERS;
    } else if (status >= 200 && status < 300 && (b.pending.flagsOut & PENDING_NO_LOGIN) === 0) {
      // A 2xx proves a password only to a REGISTER that adds bindings.
      // Asterisk's chan_sip answers an OPTIONS 200 without checking
      // credentials (auth_options_requests is off by default), and a
      // retransmitted REGISTER with Expires: 0 200 without checking them
      // either (register_verify, req->ignore): neither is a login.
      b.authed.add(key, AUTHED, now, now + AUTH_MEMORY_MS);
      if (a.trustAfterAuthMs > 0) {
        const until = now + a.trustAfterAuthMs;
        this.trust.trust(key, until);
        d.trust = true;
        d.trustUntil = until;
        d.verdict = VERDICT_ACCEPT_TRUST;
        d.reason = R_AUTH_TRUST;
      }
      return;
    }
    if (first < 0) return;
    const slot = b.answers.slot(key);
    let over = false;
    // Every window counts the event, whichever of them goes over.
    for (let i = first; i < last; i++) if (b.answers.hit(slot, i, now)) over = true;
    if (over) this.dropAndBan(d, key, now, reason, reason === R_AUTH_FAILURES ? 'auth-failures' : 'unknown-users');
    // The answer itself is let through: watching never drops what the PBX sends.
    d.verdict = VERDICT_ACCEPT;
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
    // A later message of the same packet never weakens the verdict (VERDICT_RANK); a second drop keeps the first's reason.
    if (d.messages > 1 && (d.verdict === VERDICT_DROP || VERDICT_RANK[verdict]! < VERDICT_RANK[d.verdict]!)) return;
    d.verdict = verdict;
    d.reason = reason;
    d.ruleId = ruleId;
  }
}
