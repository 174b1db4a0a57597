// Zero-copy SIP message parser (RFC 3261 §7, grammar §25).
//
// parseSip(buf, start, end, msg, stream) reads buf[start, end) and fills the
// reused SipMessage with offsets into buf. It never throws, never reads a
// byte outside [start, end), and allocates nothing (but a DataView the
// first time it sees a buffer's ArrayBuffer, line-scan.ts): lookups go
// through the tables of char-class.ts and header-names.ts (a trie that
// identifies a header name in the same pass that finds its end), results
// are numbers. Line ends are found four bytes at a time (line-scan.ts).
//
// Returns
//   PARSE_OK          a whole message (or keep-alive) is at [msg.start, msg.end)
//   PARSE_INCOMPLETE  more bytes are needed. If the header section is whole
//                     and only the body is short, msg.bodyStart >= 0, every
//                     header field is filled and msg.end is where the body
//                     will end; otherwise msg.bodyStart is -1, msg.end = start.
//   PARSE_INVALID     not SIP; msg.reason is one of INVALID_REASONS. Fields
//                     read before the fault keep their values.
// msg.headers entries at or past msg.headerCount are stale.
//
// Decisions, each where RFC 3261/4475 leaves room:
// - Line ends: CRLF per §7, but a bare LF is accepted everywhere a CRLF is
//   (start line, header lines, the blank line, folds) because real UAs send
//   it. A CR not followed by LF anywhere in the header section is
//   'bad-line-end' (in a header name, 'bad-header-name'): pjsip, the stack
//   of Asterisk's chan_pjsip, ends a line at a lone CR, so reading the CR as
//   a byte of the value would let a header ("X: a\rTo: ...") or the end of
//   a Call-ID hide from us and not from the PBX. The search for the line's
//   LF looks for CRs in the same pass (line-scan.ts): one more test per
//   four bytes. A caller reading what the PBX itself sent (whose requests
//   with a lone CR never reached it) passes `strict` false, which accepts
//   them.
//   On a stream (`strict`) every line ends in CRLF: chan_sip frames a TCP
//   message by the first "\r\n\r\n", pjsip by "\n\r\n".
// - Start line: exactly one SP between elements and nothing after SIP/2.0
//   (§7.1; RFC 4475 §3.1.2.8/§3.1.2.9 allow rejecting lwsstart and trws).
//   "SIP/2.0" is matched case-insensitively (§7.1). The Request-URI must
//   start with a scheme and hold printable ASCII only, without the bytes
//   RFC 3986 §2 leaves out of URIs (DQUOTE < > \ ^ ` { | }: ltgtruri and
//   lwsruri are rejected, and chan_sip dials what it finds inside <...>). The reason phrase may be empty and
//   the SP before it may be missing (RFC 4475 §3.1.1.13 noreason).
// - Keep-alives (RFC 5626 §3.5.1): "\r\n\r\n" at `start` is a ping
//   (end = start+4), a "\r\n" not followed by "\r\n" is a pong (end = start+2).
//   Leading CRLFs before a request on a stream (RFC 3261 §7.5 says ignore
//   them) therefore come back as keep-alive units; the caller's loop
//   (start = msg.end) then reaches the request. Same for datagrams.
// - Header names are tokens, case-insensitive, compact forms expanded;
//   "name *(SP/HTAB) :" (HCOLON). A line without a colon, an empty or
//   non-token name, or a continuation line right after the start line is
//   'missing-colon' / 'bad-header-name' / 'bad-fold'.
// - Header values: trimmed of LWS; a folded value is one header whose range
//   spans the fold (CRLF and leading WSP of the continuation included).
//   Every header is interpreted, but only the first MAX_HEADERS are recorded
//   in msg.headers: a Content-Length at line 65 still frames the message, so
//   an attacker cannot desynchronise us from the PBX by padding.
// - Content-Length: digits only (RFC 4475 §3.1.2.3 ncl), <= MAX_CONTENT_LENGTH,
//   repeated with another value -> 'conflicting-content-length' (§3.3.9
//   mcl01). So is a header named Content_Length, or a folded line that
//   starts with a Content-Length name: Kamailio's TCP reader frames the
//   stream by those (tcp_read.c), and a body only it sees could carry a
//   whole request past every rule.
//   Missing: the body runs to `end` for a datagram (§18.3); on a stream,
//   where §18.3 requires it, 'missing-content-length' (when `strict`;
//   otherwise the body is empty, §20.14). Digits on a continuation line
//   are 'bad-content-length'. On a stream the blank line ending the
//   headers must be CRLF ('bad-line-end' when `strict`; pjsip frames by
//   "\n\r\n").
//   A body shorter than Content-Length is INCOMPLETE for both; on UDP that
//   is the clerr case (§3.1.2.2) and the engine, which knows the
//   transport, rejects it.
// - Call-ID: visible ASCII only when `strict` ('bad-call-id'): a PBX
//   answers with the Call-ID as it parsed it, and chan_sip collapses blanks
//   and folds and stops at a NUL, so its answers would match no request.
// - CSeq: 1*DIGIT LWS Method with the number below 2**31 (§8.1.1.5), else
//   'bad-cseq' (RFC 4475 §3.1.2.4 scalar02); when `strict`, no fold in it
//   (RFC 4475 wsinv has one: chan_sip without pedantic checking answers
//   "CSeq: 9"). On a stream (`strict`), "Content-Length :" with blanks
//   before the colon is 'bad-content-length': chan_sip's TCP reader does
//   not find it, and frames otherwise. A request whose CSeq method
//   differs from its start-line method is 'cseq-method-mismatch' (§8.1.1.5;
//   RFC 4475 §3.1.2.16/17 mismatch01/02). A missing CSeq, From, To or Call-ID
//   is not the parser's business (RFC 4475 §3.3.1 insuf: application layer).
// - From/To: name-addr or addr-spec (see sip-uri.ts). An unterminated
//   quoted display name or a '<' without '>' is 'bad-from' or 'bad-to'
//   (RFC 4475 §3.1.2.5 quotbal), and so is a '<' after an unquoted ':'
//   ("x:y <sip:101@pbx>": Kamailio reads a display name and that URI, an
//   addr-spec reading finds no user). The first Via, Contact and credentials
//   are only located here; SipMessage decodes their branch, URI and
//   username on first read, since the verdict rarely needs them: a Contact
//   that fails to decode then reads as absent, not as an invalid message. Spaces inside
//   <...> are ignored (§3.1.2.13 badaspec, liberal); an addr-spec Contact with
//   an escaped header (§3.1.2.12 regbadct) is accepted and its user/host
//   reported: rejecting it is the application's call.
// - Ranges point into buf; nothing is unescaped (%41 stays %41, the display
//   name keeps its quoted-pairs).

// Imported bindings are live: V8 re-reads them (with a TDZ check) at every
// use, even in a hot loop. Module-local consts are folded into the code,
// so the values used on the packet path are copied into module consts here.
import * as cc from './char-class.js';
const {
  AT, C_ALPHA, C_DIGIT, C_HOST, C_LWS, C_SCHEME, C_URI, CHAR_CLASS, COLON, CR, HTAB, LF, LOWER, SLASH, SP,
} = cc;
import * as k from './constants.js';
const {
  H_AUTHORIZATION, H_CALL_ID, H_CONTACT, H_CONTENT_LENGTH, H_CSEQ, H_FROM, H_OTHER, H_PROXY_AUTHORIZATION, H_TO, H_USER_AGENT,
  H_VIA, KIND_KEEPALIVE, KIND_NONE, KIND_REQUEST, KIND_RESPONSE, MAX_CONTENT_LENGTH, MAX_HEADER_BYTES, MAX_HEADERS,
  M_OTHER, PARSE_INCOMPLETE, PARSE_INVALID, PARSE_OK,
} = k;
import * as hn from './header-names.js';
const { HEADER_ACCEPT, HEADER_NEXT, METHOD_WALK, methodToken } = hn;
import type { SipMessage } from './sip-message.js';
import * as ls from './line-scan.js';
const { findLineEnd, LONE_CR, wordBase, wordsOf } = ls;
import * as uri from './sip-uri.js';
const {
  A_HOST_END, A_HOST_START, A_NAME_END, A_NAME_START, A_RAQUOT, A_USER_END, A_USER_START, ADDR, parseAddress, parseUri,
  URI_BOUNDED,
} = uri;

// ---- INVALID reasons (stable; listed in constants.ts INVALID_REASONS) ----
const R_BAD_RANGE = 'bad-range';
const R_BAD_START_LINE = 'bad-start-line';
const R_BAD_REQUEST_LINE = 'bad-request-line';
const R_BAD_REQUEST_URI = 'bad-request-uri';
const R_BAD_VERSION = 'bad-version';
const R_BAD_STATUS_LINE = 'bad-status-line';
const R_BAD_LINE_END = 'bad-line-end';
const R_BAD_HEADER_NAME = 'bad-header-name';
const R_MISSING_COLON = 'missing-colon';
const R_BAD_FOLD = 'bad-fold';
const R_HEADERS_TOO_LONG = 'headers-too-long';
const R_BAD_CONTENT_LENGTH = 'bad-content-length';
const R_CONTENT_LENGTH_TOO_LARGE = 'content-length-too-large';
const R_CONFLICTING_CONTENT_LENGTH = 'conflicting-content-length';
const R_BAD_CSEQ = 'bad-cseq';
const R_CSEQ_METHOD_MISMATCH = 'cseq-method-mismatch';
const R_BAD_FROM = 'bad-from';
const R_BAD_TO = 'bad-to';
const R_MISSING_CONTENT_LENGTH = 'missing-content-length';
const R_REPEATED_HEADER = 'repeated-header';
const R_BAD_CALL_ID = 'bad-call-id';

/** RFC 3261 §8.1.1.5: the CSeq number MUST be less than 2**31. */
const MAX_CSEQ = 0x7fffffff;

/** "sip/2.0" lowercased, matched through LOWER (§7.1: SIP-Version is case-insensitive). */
const VERSION = new Uint8Array([0x73, 0x69, 0x70, 0x2f, 0x32, 0x2e, 0x30]);

/** Scratch for parseCSeq: [number, methodStart, methodEnd, method id]. */
const CSEQ = new Int32Array(4);

function reset(msg: SipMessage, buf: Buffer, start: number): void {
  msg.buf = buf;
  msg.start = start;
  msg.end = start;
  msg.kind = KIND_NONE;
  msg.reason = '';
  msg.method = M_OTHER;
  msg.methodStart = -1;
  msg.methodEnd = -1;
  msg.ruriStart = -1;
  msg.ruriEnd = -1;
  msg.ruriUserStart = -1;
  msg.ruriUserEnd = -1;
  msg.ruriHostStart = -1;
  msg.ruriHostEnd = -1;
  msg.status = 0;
  msg.headerCount = 0;
  msg.bodyStart = -1;
  msg.contentLength = -1;
  msg.userAgentStart = -1;
  msg.userAgentEnd = -1;
  msg.fromNameStart = -1;
  msg.fromNameEnd = -1;
  msg.fromUserStart = -1;
  msg.fromUserEnd = -1;
  msg.fromHostStart = -1;
  msg.fromHostEnd = -1;
  msg.fromStart = -1;
  msg.fromEnd = -1;
  msg.toUserStart = -1;
  msg.toUserEnd = -1;
  msg.toHostStart = -1;
  msg.toHostEnd = -1;
  msg.toStart = -1;
  msg.toEnd = -1;
  msg.toRaquot = -1;
  msg.contactStart = -1;
  msg.contactEnd = -1;
  msg.callIdStart = -1;
  msg.callIdEnd = -1;
  msg.cseq = -1;
  msg.cseqMethod = M_OTHER;
  msg.viaStart = -1;
  msg.viaEnd = -1;
  msg.hasCredentials = false;
  msg.decoded = 0;
}

function invalid(msg: SipMessage, reason: string): number {
  msg.reason = reason;
  return PARSE_INVALID;
}

/**
 * Parses one SIP message (or CRLF keep-alive) from buf[start, end). See the
 * file comment for the contract. `stream` is true for TCP/TLS, false for a
 * UDP datagram (the body runs to `end`). `strict` false, for what the PBX
 * itself sends, skips the checks that exist because a PBX would read a
 * request differently (see above): the lone-CR check, and on a stream the
 * CRLF blank line and the required Content-Length (a missing one then
 * means no body).
 */
export function parseSip(buf: Buffer, start: number, end: number, msg: SipMessage, stream = false, strict = true): number {
  reset(msg, buf, start);
  const cls = CHAR_CLASS;
  const low = LOWER;
  const hNext = HEADER_NEXT;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > buf.length || start > end) {
    return invalid(msg, R_BAD_RANGE);
  }
  if (start === end) return PARSE_INCOMPLETE;
  // Everything up to the blank line must fit in MAX_HEADER_BYTES; running
  // into `lim` means "need more" if the buffer ends there, "too long" if not.
  const lim = end - start > MAX_HEADER_BYTES ? start + MAX_HEADER_BYTES : end;
  const over = end > lim;
  let p = start;
  let c = buf[p]!;

  // ---- RFC 5626 §3.5.1 keep-alives ----
  if (c === CR) {
    if (p + 1 >= end) return PARSE_INCOMPLETE;
    if (buf[p + 1] !== LF) return invalid(msg, R_BAD_LINE_END);
    msg.kind = KIND_KEEPALIVE;
    if (p + 2 < end && buf[p + 2] === CR) {
      if (p + 3 >= end) {
        msg.kind = KIND_NONE;
        return PARSE_INCOMPLETE;
      }
      if (buf[p + 3] === LF) {
        msg.end = p + 4;
        return PARSE_OK;
      }
    }
    msg.end = p + 2;
    return PARSE_OK;
  }

  // Line ends are found a word at a time (line-scan.ts), never past `lim`.
  const words = wordsOf(buf);
  const base = wordBase(buf);

  // ---- start line ----
  const ms = p;
  p = methodToken(buf, p, lim);
  if (p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
  if (p === ms) return invalid(msg, R_BAD_START_LINE);
  c = buf[p]!;
  let isRequest: boolean;
  if (c === SLASH && p - ms === 3 && low[buf[ms]!] === 0x73 && low[buf[ms + 1]!] === 0x69 && low[buf[ms + 2]!] === 0x70) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF (§7.2)
    isRequest = false;
    msg.kind = KIND_RESPONSE;
    p = ms;
    const v = matchVersion(buf, p, lim);
    if (v === -1) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
    if (v === -2) return invalid(msg, R_BAD_STATUS_LINE);
    if (v === -3) return invalid(msg, R_BAD_VERSION);
    p = v;
    if (p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
    if (buf[p] !== SP) return invalid(msg, (cls[buf[p]!]! & C_DIGIT) !== 0 ? R_BAD_VERSION : R_BAD_STATUS_LINE);
    p++;
    // Status-Code = 3DIGIT, 100-699 (§7.2, §21)
    let code = 0;
    for (let i = 0; i < 3; i++, p++) {
      if (p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
      c = buf[p]!;
      if ((cls[c]! & C_DIGIT) === 0) return invalid(msg, R_BAD_STATUS_LINE);
      code = code * 10 + (c - 0x30);
    }
    if (code < 100 || code > 699) return invalid(msg, R_BAD_STATUS_LINE);
    if (p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
    c = buf[p]!;
    if (c === SP) {
      p++;
    } else if (c !== CR && c !== LF) {
      return invalid(msg, R_BAD_STATUS_LINE);
    }
    msg.status = code;
    // Reason-Phrase: any text (UTF-8 allowed, RFC 4475 §3.1.1.12 unreason) up to the LF.
    p = findLineEnd(buf, words, base, p, lim, strict);
    if (p < 0) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
    if (strict && (LONE_CR[0] !== 0 || (stream && buf[p - 1] !== CR))) return invalid(msg, R_BAD_LINE_END);
    p++;
  } else {
    // Request-Line = Method SP Request-URI SP SIP-Version CRLF (§7.1)
    isRequest = true;
    if (c !== SP) return invalid(msg, R_BAD_REQUEST_LINE);
    msg.kind = KIND_REQUEST;
    msg.methodStart = ms;
    msg.methodEnd = p;
    msg.method = METHOD_WALK[0]!;
    p++;
    const us = p;
    if (p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
    if ((cls[buf[p]!]! & C_ALPHA) === 0) return invalid(msg, buf[p] === SP ? R_BAD_REQUEST_LINE : R_BAD_REQUEST_URI);
    p++;
    while (p < lim && (cls[buf[p]!]! & C_SCHEME) !== 0) p++;
    if (p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
    if (buf[p] !== COLON) return invalid(msg, R_BAD_REQUEST_URI);
    p++;
    // The rest of the URI: printable ASCII. Noted for parseUri on the way,
    // so it does not read the URI again: the first '@', and where the host
    // after it (or after the scheme, without '@') stops being hostname bytes.
    let at = -1;
    let hostEnd = -1;
    while (p < lim) {
      c = buf[p]!;
      const k = cls[c]!;
      if ((k & C_URI) === 0) break;
      if ((k & C_HOST) === 0) {
        if (c === AT && at < 0) {
          at = p;
          hostEnd = -1; // the host starts after it
        } else if (hostEnd < 0) {
          hostEnd = p;
        }
      }
      p++;
    }
    if (p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
    if (c !== SP) return invalid(msg, c === CR || c === LF ? R_BAD_REQUEST_LINE : R_BAD_REQUEST_URI);
    msg.ruriStart = us;
    msg.ruriEnd = p;
    p++;
    const v = matchVersion(buf, p, lim);
    if (v === -1) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
    if (v === -2) return invalid(msg, R_BAD_REQUEST_LINE);
    if (v === -3) return invalid(msg, R_BAD_VERSION);
    p = v;
    if (p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
    c = buf[p]!;
    if (c === CR) {
      if (p + 1 >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
      if (buf[p + 1] !== LF) return invalid(msg, R_BAD_LINE_END);
      p += 2;
    } else if (c === LF) {
      if (stream && strict) return invalid(msg, R_BAD_LINE_END); // see the header lines below
      p++;
    } else {
      return invalid(msg, (cls[c]! & C_DIGIT) !== 0 ? R_BAD_VERSION : R_BAD_REQUEST_LINE);
    }
    parseUri(buf, us, msg.ruriEnd, URI_BOUNDED, at, hostEnd < 0 ? msg.ruriEnd : hostEnd);
    msg.ruriUserStart = ADDR[A_USER_START]!;
    msg.ruriUserEnd = ADDR[A_USER_END]!;
    msg.ruriHostStart = ADDR[A_HOST_START]!;
    msg.ruriHostEnd = ADDR[A_HOST_END]!;
  }

  // ---- header fields (§7.3) ----
  const headers = msg.headers;
  const names = msg.headerNames;
  let count = 0;
  let contentLength = -1;
  let cseqMethodStart = -1;
  let cseqMethodEnd = -1;
  let seenFrom = false;
  let seenTo = false;
  for (;;) {
    if (p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
    c = buf[p]!;
    if (c === CR) {
      if (p + 1 >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
      if (buf[p + 1] !== LF) return invalid(msg, R_BAD_LINE_END);
      p += 2;
      break;
    }
    if (c === LF) {
      // A blank line of a bare LF: pjsip's stream framing (pjsip_find_msg)
      // ends a header section only at "\n\r\n", so on TCP it would read on
      // into what follows as headers, and frame by them, where we see a body
      // or the next message.
      if (stream && strict) return invalid(msg, R_BAD_LINE_END);
      p++;
      break;
    }
    // field-name = token: one trie step per byte finds its end, checks it is
    // a token and identifies it (header-names.ts).
    const ns = p;
    let st = 0;
    for (;;) {
      const n = hNext[(st << 8) | c]!;
      if (n < 0) break;
      st = n;
      if (++p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
      c = buf[p]!;
    }
    const ne = p;
    if (ne === ns) return invalid(msg, c === SP || c === HTAB ? R_BAD_FOLD : R_BAD_HEADER_NAME);
    // HCOLON = *( SP / HTAB ) ":" SWS
    while (c === SP || c === HTAB) {
      if (++p >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
      c = buf[p]!;
    }
    if (c !== COLON) {
      const eol = c === LF || (c === CR && p + 1 < lim && buf[p + 1] === LF);
      return invalid(msg, eol ? R_MISSING_COLON : R_BAD_HEADER_NAME);
    }
    const colon = p;
    p++;
    // The value runs to the LF that is not followed by SP/HTAB (a fold,
    // §7.3.1). A lone CR is noted, not refused at once: the line may yet
    // be incomplete, and a prefix of a message is INCOMPLETE, not INVALID.
    const raw = p;
    let lone = 0;
    for (;;) {
      // After a lone CR only the LFs matter (line-scan.ts).
      p = findLineEnd(buf, words, base, p, lim, strict && lone === 0);
      if (p < 0) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
      lone |= LONE_CR[0]!;
      if (p + 1 >= lim) return over ? invalid(msg, R_HEADERS_TOO_LONG) : PARSE_INCOMPLETE;
      c = buf[p + 1]!;
      if (c !== SP && c !== HTAB) break;
      // A fold (rare): Kamailio's TCP reader frames a message by any line
      // that names Content-Length after leading blanks, folds included.
      if (namesContentLength(buf, p + 1, lim)) return invalid(msg, R_CONFLICTING_CONTENT_LENGTH);
      if (stream && strict && buf[p - 1] !== CR) return invalid(msg, R_BAD_LINE_END);
      p += 2;
    }
    // buf[p] is the LF ending the field; trim LWS (folds included) off both ends.
    // On a stream every line ends in CRLF (§7.5): chan_sip frames by the
    // first "\r\n\r\n" (check_message_integrity), pjsip by "\n\r\n", so a
    // line ended by a bare LF before a CRLF blank line ("0\n\r\n") ends the
    // header section for pjsip and for us but not for chan_sip, which reads
    // the next message's headers as this one's and runs what we took for a
    // body as a request.
    if (strict && (lone !== 0 || (stream && buf[p - 1] !== CR))) return invalid(msg, R_BAD_LINE_END);
    let vs = raw;
    let ve = p;
    if (buf[vs] === SP) vs++; // the usual single SP after the colon
    while (vs < ve && (cls[buf[vs]!]! & C_LWS) !== 0) vs++;
    if (ve > vs && buf[ve - 1] === CR) ve--; // the usual CR of CRLF
    while (ve > vs && (cls[buf[ve - 1]!]! & C_LWS) !== 0) ve--;
    p++;
    const id = HEADER_ACCEPT[st]!;
    // "Content_Length": no header to pjsip or sofia-sip, but Kamailio's TCP
    // reader takes '_' for '-' there (tcp_read.c), and frames the stream by
    // it: a second Content-Length only one side sees.
    if (id === H_OTHER && ne - ns === 14 && namesContentLength(buf, ns, lim)) return invalid(msg, R_CONFLICTING_CONTENT_LENGTH);
    switch (id) {
      case H_VIA:
        // The branch is looked up on first use (SipMessage.viaBranchStart).
        if (msg.viaStart < 0) {
          msg.viaStart = vs;
          msg.viaEnd = ve;
        }
        break;
      case H_FROM:
        if (!seenFrom) {
          seenFrom = true;
          if (!parseAddress(buf, vs, ve, false, strict && isRequest)) return invalid(msg, R_BAD_FROM);
          msg.fromNameStart = ADDR[A_NAME_START]!;
          msg.fromNameEnd = ADDR[A_NAME_END]!;
          msg.fromUserStart = ADDR[A_USER_START]!;
          msg.fromUserEnd = ADDR[A_USER_END]!;
          msg.fromHostStart = ADDR[A_HOST_START]!;
          msg.fromHostEnd = ADDR[A_HOST_END]!;
          msg.fromStart = vs;
          msg.fromEnd = ve;
        }
        break;
      case H_TO:
        if (!seenTo) {
          seenTo = true;
          if (!parseAddress(buf, vs, ve, false, strict && isRequest)) return invalid(msg, R_BAD_TO);
          msg.toUserStart = ADDR[A_USER_START]!;
          msg.toUserEnd = ADDR[A_USER_END]!;
          msg.toHostStart = ADDR[A_HOST_START]!;
          msg.toHostEnd = ADDR[A_HOST_END]!;
          msg.toStart = vs;
          msg.toEnd = ve;
          msg.toRaquot = ADDR[A_RAQUOT]!;
        }
        break;
      case H_CONTACT:
        // Decoded on first use (SipMessage.contactUserStart...).
        if (msg.contactStart < 0) {
          msg.contactStart = vs;
          msg.contactEnd = ve;
        }
        break;
      // Call-ID and CSeq appear once (§20.8, §20.16). A second one is
      // refused: the PBXs do not agree on which one counts (pjsip's parser
      // keeps the last CSeq and answers with it, Kamailio copies every one),
      // and an answer must name the request it answers (Engine.transaction).
      case H_CALL_ID:
        if (msg.callIdStart >= 0) return invalid(msg, R_REPEATED_HEADER);
        if (strict && !visibleOnly(buf, vs, ve)) return invalid(msg, R_BAD_CALL_ID);
        msg.callIdStart = vs;
        msg.callIdEnd = ve;
        break;
      case H_CSEQ:
        if (msg.cseq >= 0) return invalid(msg, R_REPEATED_HEADER);
        if (!parseCSeq(buf, vs, ve, strict)) return invalid(msg, R_BAD_CSEQ);
        msg.cseq = CSEQ[0]!;
        cseqMethodStart = CSEQ[1]!;
        cseqMethodEnd = CSEQ[2]!;
        msg.cseqMethod = CSEQ[3]!;
        break;
      case H_CONTENT_LENGTH: {
        // Digits on a continuation line ("Content-Length:\r\n 5"): Kamailio's
        // TCP reader finds no length there (tcp_read.c), we would find 5.
        for (let q = raw; q < vs; q++) if (buf[q] === LF) return invalid(msg, R_BAD_CONTENT_LENGTH);
        // "Content-Length :" on a stream: chan_sip's TCP reader looks for
        // "\nContent-Length:" or "\nl:" (read_raw_content_length), finds
        // none, and takes the bytes it has for the whole message; the body
        // we skip would be its next request.
        if (stream && strict && colon !== ne) return invalid(msg, R_BAD_CONTENT_LENGTH);
        const n = parseContentLength(buf, vs, ve);
        if (n === -1) return invalid(msg, R_BAD_CONTENT_LENGTH);
        if (n === -2) return invalid(msg, R_CONTENT_LENGTH_TOO_LARGE);
        if (contentLength >= 0 && contentLength !== n) return invalid(msg, R_CONFLICTING_CONTENT_LENGTH);
        contentLength = n;
        break;
      }
      case H_USER_AGENT:
        if (msg.userAgentStart < 0) {
          msg.userAgentStart = vs;
          msg.userAgentEnd = ve;
        }
        break;
      case H_AUTHORIZATION:
      case H_PROXY_AUTHORIZATION:
        // The username is looked up on first use (SipMessage.authUserStart).
        msg.hasCredentials = true;
        break;
      default:
        break;
    }
    if (count < MAX_HEADERS) {
      const k = count * 3;
      headers[k] = id;
      headers[k + 1] = vs;
      headers[k + 2] = ve;
      names[count * 2] = ns;
      names[count * 2 + 1] = ne;
      count++;
    }
  }
  msg.headerCount = count;
  msg.bodyStart = p;
  msg.contentLength = contentLength;

  if (isRequest) {
    // §8.1.1.5: the CSeq method MUST match the request method.
    if (msg.cseq >= 0) {
      const same = sameMethod(buf, msg.method, msg.methodStart, msg.methodEnd, msg.cseqMethod, cseqMethodStart, cseqMethodEnd);
      if (!same) return invalid(msg, R_CSEQ_METHOD_MISMATCH);
    }
  } else {
    // A response names its transaction's method only in CSeq (§8.1.1.5, §17.1.3).
    msg.method = msg.cseqMethod;
    msg.methodStart = cseqMethodStart;
    msg.methodEnd = cseqMethodEnd;
  }

  if (contentLength >= 0) {
    msg.end = p + contentLength;
    if (msg.end > end) return PARSE_INCOMPLETE;
  } else {
    // RFC 3261 §18.3: on a stream, Content-Length MUST be present. Without
    // it the PBXs do not agree on where the message ends (pjsip waits for
    // more bytes and, its buffer full, throws them away and resumes parsing
    // PJSIP_MAX_PKT_LEN bytes on; Kamailio and sofia-sip give up on the
    // connection), so a stream message without one is refused.
    if (stream && strict) return invalid(msg, R_MISSING_CONTENT_LENGTH);
    msg.end = stream ? p : end;
  }
  return PARSE_OK;
}

/**
 * Whether buf[s, e) is visible US-ASCII only (%x21-7E): a Call-ID is
 * word ["@" word] (§25.1), no LWS, no control. A PBX answers with the
 * Call-ID as it parsed it, which is not always as sent: chan_sip's
 * pedantic lws2sws() turns "a  b" and a folded "a\r\n b" into "a b", its
 * datagram copy ends at a NUL. Its 401s and 404s would then match no
 * request of ours and go uncounted.
 */
function visibleOnly(buf: Buffer, s: number, e: number): boolean {
  for (let q = s; q < e; q++) {
    const c = buf[q]!;
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** "content" and "length" lowercased, matched through LOWER. */
const CONTENT = new Uint8Array([0x63, 0x6f, 0x6e, 0x74, 0x65, 0x6e, 0x74]);
const LENGTH = new Uint8Array([0x6c, 0x65, 0x6e, 0x67, 0x74, 0x68]);

/**
 * Whether buf[p, lim) starts, after SP/HTAB, with a name Kamailio's TCP
 * reader takes for Content-Length: "content" "-" or "_" "length", or "l",
 * any case, then SP/HTAB and ':' (kamailio src/core/tcp_read.c,
 * tcp_read_headers()).
 */
function namesContentLength(buf: Buffer, p: number, lim: number): boolean {
  const low = LOWER;
  while (p < lim && (buf[p] === SP || buf[p] === HTAB)) p++;
  if (p >= lim) return false;
  if (low[buf[p]!] === 0x6c) {
    p++;
  } else {
    if (p + 14 > lim) return false;
    for (let i = 0; i < 7; i++) if (low[buf[p + i]!] !== CONTENT[i]) return false;
    const sep = buf[p + 7];
    if (sep !== 0x2d && sep !== 0x5f) return false;
    for (let i = 0; i < 6; i++) if (low[buf[p + 8 + i]!] !== LENGTH[i]) return false;
    p += 14;
  }
  while (p < lim && (buf[p] === SP || buf[p] === HTAB)) p++;
  return p < lim && buf[p] === COLON;
}

/**
 * Matches "SIP/2.0" at buf[p]. Returns the offset after it, -1 if the buffer
 * ends first, -2 if the bytes are not "SIP/", -3 if they are "SIP/" with
 * another version (RFC 4475 §3.1.2.15 badvers).
 */
function matchVersion(buf: Buffer, p: number, lim: number): number {
  const low = LOWER;
  const ver = VERSION;
  if (p + 7 <= lim) {
    // Whole: the usual case, no per-byte bound checks.
    if (low[buf[p]!] !== 0x73 || low[buf[p + 1]!] !== 0x69 || low[buf[p + 2]!] !== 0x70 || buf[p + 3] !== SLASH) return -2;
    if (buf[p + 4] !== 0x32 || buf[p + 5] !== 0x2e || buf[p + 6] !== 0x30) return -3;
    return p + 7;
  }
  for (let i = 0; i < 7; i++) {
    if (p + i >= lim) return -1;
    if (low[buf[p + i]!] !== ver[i]) return i < 4 ? -2 : -3;
  }
  return p + 7;
}

function sameMethod(buf: Buffer, a: number, as: number, ae: number, b: number, bs: number, be: number): boolean {
  if (a !== b) return false;
  if (a !== M_OTHER) return true;
  if (ae - as !== be - bs) return false;
  for (let i = 0; i < ae - as; i++) if (buf[as + i] !== buf[bs + i]) return false;
  return true;
}

/** Content-Length = 1*DIGIT (§20.14). The value, -1 if malformed, -2 if above MAX_CONTENT_LENGTH. */
function parseContentLength(buf: Buffer, s: number, e: number): number {
  const cls = CHAR_CLASS;
  if (s >= e) return -1;
  let n = 0;
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if ((cls[c]! & C_DIGIT) === 0) return -1;
    n = n * 10 + (c - 0x30);
    if (n > MAX_CONTENT_LENGTH) {
      // Keep validating the digits so "99999x" is malformed, not just large.
      for (let q = p + 1; q < e; q++) if ((cls[buf[q]!]! & C_DIGIT) === 0) return -1;
      return -2;
    }
  }
  return n;
}

/**
 * CSeq = 1*DIGIT LWS Method (§20.16). Fills CSEQ; false if malformed or >=
 * 2**31. `strict`: no fold between them; chan_sip without pedantic checking
 * ends the line at the fold and answers "CSeq: 1", which matches no request.
 */
function parseCSeq(buf: Buffer, s: number, e: number, strict: boolean): boolean {
  const cls = CHAR_CLASS;
  let p = s;
  let n = 0;
  while (p < e && (cls[buf[p]!]! & C_DIGIT) !== 0) {
    n = n * 10 + (buf[p]! - 0x30);
    if (n > MAX_CSEQ) return false;
    p++;
  }
  if (p === s) return false;
  const d = p;
  while (p < e && (cls[buf[p]!]! & C_LWS) !== 0) {
    if (strict && (buf[p] === CR || buf[p] === LF)) return false;
    p++;
  }
  if (p === d) return false;
  const ms = p;
  p = methodToken(buf, p, e);
  if (p === ms || p !== e) return false;
  CSEQ[0] = n;
  CSEQ[1] = ms;
  CSEQ[2] = p;
  CSEQ[3] = METHOD_WALK[0]!;
  return true;
}
