// The user and host of a SIP, SIPS or TEL URI, and the display name of a
// name-addr, as offsets into the caller's buffer (no unescaping: a range
// holds the bytes as sent, %HH escapes included, RFC 4475 §3.1.1.3/§3.1.1.4).
//
// Results go to the module scratch ADDR (no allocation per call):
//   ADDR[A_NAME_START], ADDR[A_NAME_END]  display-name, without the quotes
//   ADDR[A_USER_START], ADDR[A_USER_END]  user part (up to '@', before any ':password')
//   ADDR[A_HOST_START], ADDR[A_HOST_END]  host (no port; an IPv6 reference keeps its brackets)
//   ADDR[A_RAQUOT]                        parseAddress: the name-addr's '>' (its header
//                                         parameters follow it), -1 for an addr-spec
// An absent part is -1/-1.

// Imported bindings are live: V8 re-reads them (with a TDZ check) at every
// use, even in a hot loop. Module-local consts are folded into the code,
// so the values used on the packet path are copied into module consts here.
import * as cc from './char-class.js';
const {
  AT, BACKSLASH, C_HOST, C_LWS, CHAR_CLASS, COLON, COMMA, DQUOTE, LAQUOT, LBRACKET, LOWER, RAQUOT, RBRACKET, SEMI,
} = cc;

export const A_NAME_START = 0;
export const A_NAME_END = 1;
export const A_USER_START = 2;
export const A_USER_END = 3;
export const A_HOST_START = 4;
export const A_HOST_END = 5;
export const A_RAQUOT = 6;
export const ADDR = new Int32Array(7);

/**
 * Where the URI sits, which decides what ends it. The Request-URI is cut
 * at SP by the caller (URI_BOUNDED). Inside <...> a '>' ends it
 * (URI_ANGLE). A bare addr-spec in a header ends at LWS or ',' too
 * (URI_ADDR_SPEC): RFC 3261 §20 requires the name-addr form for a URI that
 * contains a comma, so a comma there separates list elements.
 */
export const URI_BOUNDED = 0;
export const URI_ANGLE = 1;
export const URI_ADDR_SPEC = 2;

const LOWER_S = 0x73;
const LOWER_I = 0x69;
const LOWER_P = 0x70;
const LOWER_T = 0x74;
const LOWER_E = 0x65;
const LOWER_L = 0x6c;

/**
 * Fills ADDR's user and host from the URI starting at buf[s] and ending no
 * later than e. Schemes other than sip:, sips: and tel: leave both absent
 * (RFC 3261 §19.1.1 for SIP/SIPS; RFC 3966 for tel:, whose number is
 * reported as the user and which has no host). Returns the offset where it
 * stopped reading (after the host, or the tel: number), so a caller looking
 * for the '>' goes on from there. A caller that has already scanned a
 * URI_BOUNDED URI passes the offset of its first '@' (-1: none) as knownAt
 * and, as knownHostEnd, the first byte after the host's start (after that
 * '@', or after the scheme's ':' without one) that is not a hostname byte
 * (C_HOST), or e.
 */
export function parseUri(buf: Buffer, s: number, e: number, mode: number, knownAt = -2, knownHostEnd = -1): number {
  const out = ADDR;
  const cls = CHAR_CLASS;
  const low = LOWER;
  out[A_USER_START] = -1;
  out[A_USER_END] = -1;
  out[A_HOST_START] = -1;
  out[A_HOST_END] = -1;
  if (e - s < 4) return s;
  const c0 = low[buf[s]!]!;
  let p: number;
  if (c0 === LOWER_S && low[buf[s + 1]!] === LOWER_I && low[buf[s + 2]!] === LOWER_P) {
    p = s + 3;
    if (low[buf[p]!] === LOWER_S) p++;
    if (p >= e || buf[p] !== COLON) return s;
    p++;
  } else if (c0 === LOWER_T && low[buf[s + 1]!] === LOWER_E && low[buf[s + 2]!] === LOWER_L && buf[s + 3] === COLON) {
    // telephone-subscriber (RFC 3966 §3): the number runs to the first ';' (its parameters).
    p = s + 4;
    let q = p;
    while (q < e) {
      const c = buf[q]!;
      if (c === SEMI || (cls[c]! & C_LWS) !== 0 || c === RAQUOT || c === LAQUOT || c === DQUOTE) break;
      if (mode === URI_ADDR_SPEC && c === COMMA) break;
      q++;
    }
    if (q > p) {
      out[A_USER_START] = p;
      out[A_USER_END] = q;
    }
    return q;
  } else {
    return s;
  }
  // userinfo is everything up to the '@' (§19.1.1): it may hold ';' user
  // parameters (sip:+1555;phone-context=x@h, RFC 3261 §19.1.6) and the
  // characters of user-unreserved (& = + $ , ; ? /), so only bytes no URI
  // may contain stop the search.
  let at = -1;
  if (knownAt !== -2) {
    at = knownAt >= p ? knownAt : -1;
  } else if (mode === URI_BOUNDED) {
    for (let q = p; q < e; q++) {
      if (buf[q] === AT) {
        at = q;
        break;
      }
    }
  } else if (mode === URI_ANGLE) {
    for (let q = p; q < e; q++) {
      const c = buf[q]!;
      if (c === AT) {
        at = q;
        break;
      }
      if (c === RAQUOT || (cls[c]! & C_LWS) !== 0) break;
    }
  } else {
    for (let q = p; q < e; q++) {
      const c = buf[q]!;
      if (c === AT) {
        at = q;
        break;
      }
      if ((cls[c]! & C_LWS) !== 0 || c === RAQUOT || c === LAQUOT || c === DQUOTE || c === COMMA) break;
    }
  }
  let h = p;
  if (at >= 0) {
    let ue = p;
    while (ue < at && buf[ue] !== COLON) ue++; // ':' starts the password
    if (ue > p) {
      out[A_USER_START] = p;
      out[A_USER_END] = ue;
    }
    h = at + 1;
  }
  if (h >= e) return h;
  if (buf[h] === LBRACKET) {
    // IPv6reference = "[" IPv6address "]" (§25.1); the brackets stay in the range.
    let r = h + 1;
    while (r < e && buf[r] !== RBRACKET && (cls[buf[r]!]! & C_LWS) === 0 && buf[r] !== RAQUOT) r++;
    if (r < e && buf[r] === RBRACKET) {
      out[A_HOST_START] = h;
      out[A_HOST_END] = r + 1;
      return r + 1;
    }
    return r;
  }
  let r = h;
  if (knownHostEnd >= h) r = knownHostEnd;
  else while (r < e && (cls[buf[r]!]! & C_HOST) !== 0) r++;
  if (r > h) {
    out[A_HOST_START] = h;
    out[A_HOST_END] = r;
  }
  return r;
}

/**
 * Parses the first element of a From/To/Contact style value buf[s, e)
 * (already trimmed; may contain folded CRLF+WSP):
 *   name-addr = [ display-name ] LAQUOT addr-spec RAQUOT
 *   addr-spec  (then ';' starts header parameters, §20.10)
 * Fills all of ADDR. Returns false when the value is malformed beyond
 * repair: an unterminated quoted string (RFC 4475 §3.1.2.5) or a '<'
 * without its '>'. Liberal where RFC 4475 allows it: no LWS needed between
 * a token display-name and '<' (§3.1.1.6), LWS inside <...> ignored
 * (§3.1.2.13), a display-name of non-token words kept as it is (§3.1.2.14).
 * `list` (Contact): the value may hold more elements after a ','; only
 * the first is read and checked.
 *
 * `strict` (a request being judged): two forms are refused because
 * Asterisk's chan_sip reads another address
 * in them (get_in_brackets_full): a quoted display name that ends in an
 * escaped backslash ("a\\" <sip:1000@pbx>;x=" <sip:1001@pbx>"), since its
 * find_closing_quote() takes any '"' after a '\' for an escaped one and
 * reads on to the next; and anything but parameters after the '>'
 * ("<sip:1000@pbx> <sip:1001@pbx>"). Either way the extension chan_sip
 * registers is not the one sipwall counts.
 */
export function parseAddress(buf: Buffer, s: number, e: number, list = false, strict = false): boolean {
  const cls = CHAR_CLASS;
  ADDR[A_NAME_START] = -1;
  ADDR[A_NAME_END] = -1;
  ADDR[A_USER_START] = -1;
  ADDR[A_USER_END] = -1;
  ADDR[A_HOST_START] = -1;
  ADDR[A_HOST_END] = -1;
  ADDR[A_RAQUOT] = -1;
  let p = s;
  while (p < e && (cls[buf[p]!]! & C_LWS) !== 0) p++;
  if (p >= e) return true;
  let c = buf[p]!;
  if (c === DQUOTE) {
    // quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE (§25.1)
    let q = p + 1;
    while (q < e) {
      c = buf[q]!;
      if (c === BACKSLASH) {
        q += 2;
        continue;
      }
      if (c === DQUOTE) break;
      q++;
    }
    if (q >= e || (strict && buf[q - 1] === BACKSLASH)) return false;
    const ns = p + 1;
    p = q + 1;
    while (p < e && (cls[buf[p]!]! & C_LWS) !== 0) p++;
    if (p >= e || buf[p] !== LAQUOT) return false;
    if (q > ns) {
      ADDR[A_NAME_START] = ns;
      ADDR[A_NAME_END] = q;
    }
    return angle(buf, p, e, list, strict);
  }
  if (c === LAQUOT) return angle(buf, p, e, list, strict);
  // Either display-name words before '<', or an addr-spec whose scheme ends at ':'.
  let q = p;
  while (q < e) {
    c = buf[q]!;
    if (c === LAQUOT || c === COLON || c === DQUOTE) break;
    q++;
  }
  if (q < e && c === LAQUOT) {
    let ne = q;
    while (ne > p && (cls[buf[ne - 1]!]! & C_LWS) !== 0) ne--;
    if (ne > p) {
      ADDR[A_NAME_START] = p;
      ADDR[A_NAME_END] = ne;
    }
    return angle(buf, q, e, list, strict);
  }
  // An addr-spec holds no '<' (RFC 3986 §2 leaves it out of URIs). One after
  // a ':' or '"' ("x:y <sip:101@pbx>") makes the value ambiguous: Kamailio's
  // parse_addr_spec() reads "x:y" as the display name and the URI inside
  // <...> as the address, where an addr-spec reading finds scheme "x" and no
  // user: a To or From sipwall could not read. Malformed, then.
  for (let r = q; r < e; r++) {
    const b = buf[r]!;
    if (b === LAQUOT) return false;
    if (b === COMMA && list) break; // the next Contact
  }
  parseUri(buf, p, e, URI_ADDR_SPEC);
  return true;
}

/**
 * buf[a] is '<': parses the URI inside, then finds the '>' from where the
 * URI's host ended. `strict`: after the '>', only LWS then ';' parameters
 * (or ',' and the next element of a `list`).
 */
function angle(buf: Buffer, a: number, e: number, list: boolean, strict: boolean): boolean {
  const cls = CHAR_CLASS;
  let u = a + 1;
  while (u < e && (cls[buf[u]!]! & C_LWS) !== 0) u++;
  let r = parseUri(buf, u, e, URI_ANGLE);
  while (r < e && buf[r] !== RAQUOT) r++;
  if (r < e) {
    ADDR[A_RAQUOT] = r;
    if (!strict) return true;
    let t = r + 1;
    while (t < e && (cls[buf[t]!]! & C_LWS) !== 0) t++;
    return t >= e || buf[t] === SEMI || (list && buf[t] === COMMA);
  }
  // No '>': malformed. Report nothing from it.
  ADDR[A_USER_START] = -1;
  ADDR[A_USER_END] = -1;
  ADDR[A_HOST_START] = -1;
  ADDR[A_HOST_END] = -1;
  return false;
}
