// A parsed SIP message as offsets into the caller's buffer (zero-copy).
//
// parseSip() fills one reused SipMessage; nothing here owns bytes. A range is
// a pair of absolute offsets [start, end) into `buf`; an absent element has
// start === end === -1. Helpers at the bottom turn a
// range into a string only when a caller (CLI output, logs) wants one: the
// engine compares bytes, it does not build strings per packet.

import { H_AUTHORIZATION, H_PROXY_AUTHORIZATION, KIND_NONE, M_OTHER, MAX_HEADERS } from './constants.js';
import { findAuthUsername, findViaBranch, hasTagParam, PARAM, paramsHaveTag } from './header-params.js';
import { A_HOST_END, A_HOST_START, A_USER_END, A_USER_START, ADDR, parseAddress } from './sip-uri.js';

// Bits of SipMessage.decoded: which lazily decoded fields are filled.
const D_VIA = 1;
const D_CONTACT = 2;
const D_AUTH = 4;
const D_TO_TAG = 8;

export class SipMessage {
  buf: Buffer = Buffer.alloc(0);
  /** Offset of the first byte of this message. */
  start = 0;
  /** Offset one past the last byte (end of body per Content-Length, or end of headers if none). Next message starts here. */
  end = 0;
  /** KIND_REQUEST, KIND_RESPONSE, KIND_KEEPALIVE or KIND_NONE. */
  kind = KIND_NONE;
  /** For PARSE_INVALID: a short stable reason ('bad-request-line', 'bad-header-name', 'header-too-long', ...). '' when ok. */
  reason = '';

  // ---- request line / status line ----
  /** M_* id of the request method (M_OTHER for an extension method, see methodStart/methodEnd). For a response: the CSeq method. */
  method = M_OTHER;
  methodStart = -1;
  methodEnd = -1;
  /** Request-URI range. */
  ruriStart = -1;
  ruriEnd = -1;
  /** Request-URI user part (before '@'), -1 if none. */
  ruriUserStart = -1;
  ruriUserEnd = -1;
  /** Request-URI host part (no port, no brackets removed for IPv6 references). */
  ruriHostStart = -1;
  ruriHostEnd = -1;
  /** Status code for a response (100-699), 0 for a request. */
  status = 0;

  // ---- headers ----
  /** Number of header lines recorded (<= MAX_HEADERS). */
  headerCount = 0;
  /**
   * Per recorded header line, three ints: [id, valueStart, valueEnd]; value
   * trimmed of surrounding whitespace; folded lines (RFC 3261 §7.3.1) are one
   * header whose range spans the fold. id is H_* (H_OTHER for unknown names).
   */
  readonly headers = new Int32Array(MAX_HEADERS * 3);
  /**
   * Per recorded header line, two ints: [nameStart, nameEnd] of the name as
   * written (compact or long form, any case), so a rule can name an
   * H_OTHER header. Entries at or past headerCount are stale.
   */
  readonly headerNames = new Int32Array(MAX_HEADERS * 2);
  /** Offset where the body starts (after the blank line). */
  bodyStart = -1;
  /** Content-Length value, -1 if the header is absent. */
  contentLength = -1;

  // ---- the values the engine and detection use (first occurrence) ----
  userAgentStart = -1;
  userAgentEnd = -1;
  /** From: display-name (without quotes), user part and host part of the URI. */
  fromNameStart = -1;
  fromNameEnd = -1;
  fromUserStart = -1;
  fromUserEnd = -1;
  fromHostStart = -1;
  fromHostEnd = -1;
  /** First From value range: recorded whatever its line, since msg.headers keeps only the first MAX_HEADERS. */
  fromStart = -1;
  fromEnd = -1;
  toUserStart = -1;
  toUserEnd = -1;
  toHostStart = -1;
  toHostEnd = -1;
  /** First To value range, and its name-addr's '>' (-1 for an addr-spec), for toHasTag. */
  toStart = -1;
  toEnd = -1;
  toRaquot = -1;
  callIdStart = -1;
  callIdEnd = -1;
  /** CSeq number (0..2^31-1), -1 if absent or invalid. */
  cseq = -1;
  /** M_* id of the CSeq method. */
  cseqMethod = M_OTHER;
  /** True when an Authorization or Proxy-Authorization header is present (the request carries credentials). */
  hasCredentials = false;

  // ---- located by parseSip, decoded on first read ----
  // The verdict seldom needs the Via branch, the Contact URI or the
  // credentials' username, and decoding them was a fifth of the parse:
  // parseSip records where the first Via and Contact values are and
  // clears `decoded`; the getters below decode on first use, once per
  // message. A Contact that does not decode reads as absent.
  /** First Via value range. */
  viaStart = -1;
  viaEnd = -1;
  /** First Contact value range. */
  contactStart = -1;
  contactEnd = -1;
  /** D_* bits of the fields decoded since the last parse (parseSip resets it to 0). */
  decoded = 0;
  #viaBranchStart = -1;
  #viaBranchEnd = -1;
  #contactUserStart = -1;
  #contactUserEnd = -1;
  #contactHostStart = -1;
  #contactHostEnd = -1;
  #authUserStart = -1;
  #authUserEnd = -1;
  #toHasTag = false;

  /**
   * Whether the first To carries a tag parameter (RFC 3261 §12.2.1.1: a
   * request inside a dialog). Its header parameters follow the '>' that
   * parseSip found; an addr-spec To is read whole.
   */
  get toHasTag(): boolean {
    if ((this.decoded & D_TO_TAG) === 0) {
      this.decoded |= D_TO_TAG;
      const s = this.toStart;
      this.#toHasTag = s >= 0 && (this.toRaquot >= 0 ? paramsHaveTag(this.buf, this.toRaquot, this.toEnd) : hasTagParam(this.buf, s, this.toEnd));
    }
    return this.#toHasTag;
  }

  /** First Via's branch parameter value. */
  get viaBranchStart(): number {
    if ((this.decoded & D_VIA) === 0) this.#decodeVia();
    return this.#viaBranchStart;
  }
  get viaBranchEnd(): number {
    if ((this.decoded & D_VIA) === 0) this.#decodeVia();
    return this.#viaBranchEnd;
  }
  /** First Contact's URI user and host parts. */
  get contactUserStart(): number {
    if ((this.decoded & D_CONTACT) === 0) this.#decodeContact();
    return this.#contactUserStart;
  }
  get contactUserEnd(): number {
    if ((this.decoded & D_CONTACT) === 0) this.#decodeContact();
    return this.#contactUserEnd;
  }
  get contactHostStart(): number {
    if ((this.decoded & D_CONTACT) === 0) this.#decodeContact();
    return this.#contactHostStart;
  }
  get contactHostEnd(): number {
    if ((this.decoded & D_CONTACT) === 0) this.#decodeContact();
    return this.#contactHostEnd;
  }
  /** `username` parameter (without quotes) of the first Authorization/Proxy-Authorization that has one. */
  get authUserStart(): number {
    if ((this.decoded & D_AUTH) === 0) this.#decodeAuth();
    return this.#authUserStart;
  }
  get authUserEnd(): number {
    if ((this.decoded & D_AUTH) === 0) this.#decodeAuth();
    return this.#authUserEnd;
  }

  #decodeVia(): void {
    this.decoded |= D_VIA;
    this.#viaBranchStart = this.#viaBranchEnd = -1;
    if (this.viaStart < 0) return;
    findViaBranch(this.buf, this.viaStart, this.viaEnd);
    this.#viaBranchStart = PARAM[0]!;
    this.#viaBranchEnd = PARAM[1]!;
  }

  #decodeContact(): void {
    this.decoded |= D_CONTACT;
    this.#contactUserStart = this.#contactUserEnd = this.#contactHostStart = this.#contactHostEnd = -1;
    if (this.contactStart < 0 || !parseAddress(this.buf, this.contactStart, this.contactEnd, true)) return;
    this.#contactUserStart = ADDR[A_USER_START]!;
    this.#contactUserEnd = ADDR[A_USER_END]!;
    this.#contactHostStart = ADDR[A_HOST_START]!;
    this.#contactHostEnd = ADDR[A_HOST_END]!;
  }

  /** Walks the recorded headers: credentials beyond the first MAX_HEADERS lines are not looked at. */
  #decodeAuth(): void {
    this.decoded |= D_AUTH;
    this.#authUserStart = this.#authUserEnd = -1;
    if (!this.hasCredentials) return;
    const h = this.headers;
    for (let i = 0; i < this.headerCount; i++) {
      const id = h[i * 3]!;
      if (id !== H_AUTHORIZATION && id !== H_PROXY_AUTHORIZATION) continue;
      findAuthUsername(this.buf, h[i * 3 + 1]!, h[i * 3 + 2]!);
      if (PARAM[0]! >= 0) {
        this.#authUserStart = PARAM[0]!;
        this.#authUserEnd = PARAM[1]!;
        return;
      }
    }
  }
}

/** The bytes of a range as latin1 text ('' for an absent range). For output, not for the hot path. */
export function rangeText(msg: SipMessage, start: number, end: number): string {
  if (start < 0 || end <= start) return '';
  return msg.buf.toString('latin1', start, end);
}
