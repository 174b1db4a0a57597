// A parsed SIP message as offsets into the caller's buffer (zero-copy).
//
// parseSip() fills one reused SipMessage; nothing here owns bytes. A range is
// a pair of absolute offsets [start, end) into `buf`; an absent element has
// start === end === -1. Helpers at the bottom turn a
// range into a string only when a caller (CLI output, logs) wants one: the
// engine compares bytes, it does not build strings per packet.

import { KIND_NONE, M_OTHER, MAX_HEADERS } from './constants.js';

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
  toUserStart = -1;
  toUserEnd = -1;
  toHostStart = -1;
  toHostEnd = -1;
  contactUserStart = -1;
  contactUserEnd = -1;
  contactHostStart = -1;
  contactHostEnd = -1;
  callIdStart = -1;
  callIdEnd = -1;
  /** CSeq number (0..2^31-1), -1 if absent or invalid. */
  cseq = -1;
  /** M_* id of the CSeq method. */
  cseqMethod = M_OTHER;
  /** First Via's branch parameter value. */
  viaBranchStart = -1;
  viaBranchEnd = -1;
  /** True when an Authorization or Proxy-Authorization header is present (the request carries credentials). */
  hasCredentials = false;
  /** Authorization/Proxy-Authorization `username` parameter value (without quotes). */
  authUserStart = -1;
  authUserEnd = -1;
}

/** The bytes of a range as latin1 text ('' for an absent range). For output, not for the hot path. */
export function rangeText(msg: SipMessage, start: number, end: number): string {
  if (start < 0 || end <= start) return '';
  return msg.buf.toString('latin1', start, end);
}
