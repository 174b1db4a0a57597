// Parameter lookups inside one header value, for the fields SipMessage
// decodes on first read: the branch of a Via (RFC 3261 §20.42) and the
// username of Digest credentials (§20.7, §25.1). Offsets into the caller's
// buffer, written to PARAM (no allocation); never reads outside [s, e).

// Imported bindings are live (a TDZ check per use): copied to module consts.
import * as cc from './char-class.js';
const { BACKSLASH, C_LWS, C_TOKEN, CHAR_CLASS, COMMA, DQUOTE, EQUAL, HTAB, LOWER, SEMI } = cc;

/**
 * Bytes that can end the sent-protocol and sent-by of a via-parm: ';' (its
 * first parameter) and ',' (the next via-parm). One load and one compare per
 * byte instead of two compares: this scan is most of a Via's length.
 */
const VIA_STOP = new Uint8Array(256);
VIA_STOP[SEMI] = 1;
VIA_STOP[COMMA] = 1;

/** [start, end) of what the last lookup found; -1/-1 if nothing. */
export const PARAM = new Int32Array(2);

const USERNAME = new Uint8Array([0x75, 0x73, 0x65, 0x72, 0x6e, 0x61, 0x6d, 0x65]);
/** buf[p] is a DQUOTE: the offset of the closing DQUOTE (quoted-pairs skipped), or e if unterminated. */
function skipQuoted(buf: Buffer, p: number, e: number): number {
  p++;
  while (p < e) {
    const c = buf[p]!;
    if (c === BACKSLASH) {
      p += 2;
      continue;
    }
    if (c === DQUOTE) return p;
    p++;
  }
  return e;
}

function lowerEquals(buf: Buffer, s: number, e: number, needle: Uint8Array): boolean {
  const low = LOWER;
  if (e - s !== needle.length) return false;
  for (let i = 0; i < needle.length; i++) if (low[buf[s + i]!] !== needle[i]) return false;
  return true;
}

/**
 * The branch parameter of the first via-parm of a Via value (§20.42:
 * via-parm *(COMMA via-parm); via-params after ';', LWS allowed around '=';
 * via-branch = "branch" EQUAL token). Fills PARAM, -1/-1 if absent.
 */
export function findViaBranch(buf: Buffer, s: number, e: number): void {
  const stop = VIA_STOP;
  PARAM[0] = -1;
  PARAM[1] = -1;
  // sent-protocol LWS sent-by holds no ';' or '"'; a ',' before the first
  // ';' means the first via-parm has no parameters at all.
  let p = s;
  while (p < e && stop[buf[p]!] === 0) p++;
  if (p >= e || buf[p] !== SEMI) return;
  // What nearly every UA sends: ";branch=" first, lowercase, no LWS
  // (RFC 3261 §8.1.1.7 has the UAC insert it). Matched byte for byte it
  // skips the general walk, which measured half the cost of a lookup.
  if (
    p + 8 <= e && buf[p + 1] === 0x62 && buf[p + 2] === 0x72 && buf[p + 3] === 0x61 && buf[p + 4] === 0x6e &&
    buf[p + 5] === 0x63 && buf[p + 6] === 0x68 && buf[p + 7] === EQUAL // "branch="
  ) {
    if (tokenParam(buf, p + 8, e)) return;
    // "branch=" then LWS (a fold, say): the general walk skips it.
  }
  branchParam(buf, p, e);
}

/** Fills PARAM with the token starting at buf[vs] (ending by e); false, PARAM untouched, if it is empty. */
function tokenParam(buf: Buffer, vs: number, e: number): boolean {
  const cls = CHAR_CLASS;
  let ve = vs;
  while (ve < e && (cls[buf[ve]!]! & C_TOKEN) !== 0) ve++;
  if (ve === vs) return false;
  PARAM[0] = vs;
  PARAM[1] = ve;
  return true;
}

/** findViaBranch's general walk over via-params, from the ';' at buf[p]: any case, LWS, quoted values. */
function branchParam(buf: Buffer, p: number, e: number): void {
  const cls = CHAR_CLASS;
  const low = LOWER;
  for (;;) {
    // buf[p] is ';'
    p++;
    while (p < e && (cls[buf[p]!]! & C_LWS) !== 0) p++;
    const ns = p;
    while (p < e && (cls[buf[p]!]! & C_TOKEN) !== 0) p++;
    if (
      p - ns === 6 && low[buf[ns]!] === 0x62 && low[buf[ns + 1]!] === 0x72 && low[buf[ns + 2]!] === 0x61 &&
      low[buf[ns + 3]!] === 0x6e && low[buf[ns + 4]!] === 0x63 && low[buf[ns + 5]!] === 0x68 // "branch"
    ) {
      while (p < e && (cls[buf[p]!]! & C_LWS) !== 0) p++;
      if (p >= e || buf[p] !== EQUAL) return;
      p++;
      while (p < e && (cls[buf[p]!]! & C_LWS) !== 0) p++;
      tokenParam(buf, p, e);
      return;
    }
    // Skip this parameter's value (a quoted-string may hide ';' or ',').
    for (;;) {
      if (p >= e) return;
      const c = buf[p]!;
      if (c === SEMI) break;
      if (c === COMMA) return;
      p = c === DQUOTE ? skipQuoted(buf, p, e) + 1 : p + 1;
    }
  }
}

/**
 * The username auth-param of an Authorization/Proxy-Authorization value
 * (§20.7, §25.1: credentials = "Digest" LWS digest-response, params
 * separated by COMMA, values token or quoted-string). Fills PARAM with the
 * value without quotes, -1/-1 if absent.
 */
export function findAuthUsername(buf: Buffer, s: number, e: number): void {
  const cls = CHAR_CLASS;
  PARAM[0] = -1;
  PARAM[1] = -1;
  let p = s;
  while (p < e && (cls[buf[p]!]! & C_TOKEN) !== 0) p++; // auth-scheme
  for (;;) {
    while (p < e && ((cls[buf[p]!]! & C_LWS) !== 0 || buf[p] === COMMA)) p++;
    if (p >= e) return;
    const ns = p;
    while (p < e && (cls[buf[p]!]! & C_TOKEN) !== 0) p++;
    const ne = p;
    if (ne === ns) return;
    while (p < e && (cls[buf[p]!]! & C_LWS) !== 0) p++;
    if (p >= e || buf[p] !== EQUAL) return;
    p++;
    while (p < e && (cls[buf[p]!]! & C_LWS) !== 0) p++;
    let vs = p;
    let ve: number;
    if (p < e && buf[p] === DQUOTE) {
      ve = skipQuoted(buf, p, e);
      if (ve >= e) return;
      vs = p + 1;
      p = ve + 1;
    } else {
      while (p < e && buf[p] !== COMMA && (cls[buf[p]!]! & C_LWS) === 0) p++;
      ve = p;
    }
    if (lowerEquals(buf, ns, ne, USERNAME)) {
      PARAM[0] = vs;
      PARAM[1] = ve;
      return;
    }
  }
}

/**
 * Whether a From/To value buf[s, e) carries a tag parameter (§20.20, §20.39:
 * to-param = tag-param / generic-param, after the name-addr's '>' or, for
 * an addr-spec, after its first ';'). A request whose To has no tag is
 * outside any dialog (§12.2): a new call, a new registration.
 */
export function hasTagParam(buf: Buffer, s: number, e: number): boolean {
  let p = s;
  // Skip a quoted display name and everything up to the closing '>' if there is a '<'.
  let lt = -1;
  for (let q = s; q < e; q++) {
    const c = buf[q]!;
    if (c === DQUOTE) {
      q = skipQuoted(buf, q, e);
      continue;
    }
    if (c === 0x3c /* < */) {
      lt = q;
      break;
    }
  }
  if (lt >= 0) {
    p = lt;
    while (p < e && buf[p] !== 0x3e /* > */) p++;
  }
  return paramsHaveTag(buf, p, e);
}

/**
 * The next ';' in buf[p, e) outside quoted strings: a parameter starts
 * there. -1 at the end, or (`stopAtControl`) at a control byte other than
 * HTAB first.
 */
function nextSemi(buf: Buffer, p: number, e: number, stopAtControl: boolean): number {
  for (; p < e; p++) {
    const c = buf[p]!;
    if (c === SEMI) return p;
    if (c === DQUOTE) p = skipQuoted(buf, p, e);
    else if (stopAtControl && c < 0x20 && c !== HTAB) return -1;
  }
  return -1;
}

/**
 * Whether a ';'-led parameter in buf[s, e) is a tag: exactly ";tag=" (any
 * case) and a value (§20.39: tag-param = "tag" EQUAL token). Quoted
 * parameter values are skipped: `x=";tag=1"` holds no tag. The first tag
 * parameter decides; an empty one is no tag, as Kamailio's has_totag()
 * reads it, so `;tag=` cannot make a new call pass for one in a dialog (the
 * call limit counts only calls outside dialogs).
 *
 * Stricter than the grammar, which allows LWS around '=' and after ';': a
 * request only counts as in a dialog if every PBX reads it so, and
 * Asterisk's chan_sip finds a tag by the bytes ";tag=" (gettag()). So
 * "; tag=x" and ";tag =x" are no tag, nor is one after a control byte
 * (a fold, which chan_sip ends the line at, or a NUL, where it stops
 * reading a datagram). Counting such an INVITE as a new call costs at most
 * a place in the call limit until the PBX's 481 frees it.
 */
export function paramsHaveTag(buf: Buffer, s: number, e: number): boolean {
  const low = LOWER;
  for (let p = nextSemi(buf, s, e, true); p >= 0; p = nextSemi(buf, p + 1, e, true)) {
    const q = p + 1;
    if (q + 4 < e && low[buf[q]!] === 0x74 && low[buf[q + 1]!] === 0x61 && low[buf[q + 2]!] === 0x67 && buf[q + 3] === EQUAL) {
      return (CHAR_CLASS[buf[q + 4]!]! & C_TOKEN) !== 0;
    }
  }
  return false;
}

/** "expires" lowercased. */
const EXPIRES = new Uint8Array([0x65, 0x78, 0x70, 0x69, 0x72, 0x65, 0x73]);

/** Whether buf[s, e) is one or more digits, all '0'. */
export function isZero(buf: Buffer, s: number, e: number): boolean {
  if (s >= e) return false;
  for (let p = s; p < e; p++) if (buf[p] !== 0x30) return false;
  return true;
}

/**
 * Whether a Contact value buf[s, e) asks to remove bindings (RFC 3261
 * §10.2.2): "*", or an "expires" parameter of 0 on any of its elements.
 * Quoted strings are skipped; LWS around '=' is allowed (§25.1).
 */
export function contactRemoves(buf: Buffer, s: number, e: number): boolean {
  if (e - s === 1 && buf[s] === 0x2a /* * */) return true;
  const cls = CHAR_CLASS;
  const low = LOWER;
  for (let p = nextSemi(buf, s, e, false); p >= 0; p = nextSemi(buf, p + 1, e, false)) {
    let q = p + 1;
    while (q < e && (cls[buf[q]!]! & C_LWS) !== 0) q++;
    if (q + 7 > e) return false;
    let i = 0;
    while (i < 7 && low[buf[q + i]!] === EXPIRES[i]) i++;
    if (i < 7) continue;
    q += 7;
    while (q < e && (cls[buf[q]!]! & C_LWS) !== 0) q++;
    if (q >= e || buf[q] !== EQUAL) continue;
    q++;
    while (q < e && (cls[buf[q]!]! & C_LWS) !== 0) q++;
    let d = q;
    while (d < e && buf[d]! >= 0x30 && buf[d]! <= 0x39) d++;
    if (isZero(buf, q, d)) return true;
  }
  return false;
}
