// Which toll-fraud pattern a dialled number matches: the Request-URI user
// of an INVITE from an untrusted source, read as a telephone number.
//
// The user part may carry visual separators (RFC 3966 §5.1.1: "-", ".",
// "(", ")") and user parameters after ';' (RFC 3261 §19.1.6,
// "+1555;phone-context=..."); one that does not start with a digit (or '+'
// and a digit) is not a number (an extension named "alice", "*97"), which
// no rule here matches; other bytes after the digits end the number.
// The digits go to a module scratch array and prefixes are compared as
// bytes: no string per INVITE.

import { hexValue } from '../packet/address.js';
import type { CompiledTollFraud, PrefixIndex } from '../rules/compile-rules.js';

export const TOLL_INTERNATIONAL = 'toll-international';
export const TOLL_HIGH_RISK = 'toll-high-risk';
export const TOLL_PREMIUM = 'toll-premium';

/** Shorter than this after the international prefix is not a dialable foreign number (E.164 numbers run 8-15 digits with the country code). */
const MIN_INTERNATIONAL_DIGITS = 5;
/** Longer than this is not a telephone number (E.164 allows 15 digits; room for access and outside-line codes). */
const MAX_DIGITS = 24;
const PLUS = 0x2b;

/** The number: '+' (if any) then digits, in NUM[0, numLen). */
const NUM = new Uint8Array(MAX_DIGITS + 1);
let numLen = 0;
/** The number ended at a byte that is neither a digit, a letter, a separator nor ';' ("004#"): any digit after the prefix counts then. */
let junkEnded = false;

/**
 * Rounds of %HH decoding. pjsip decodes the user part once; Asterisk's
 * chan_sip twice (SIP_PEDANTIC_DECODE, then ast_uri_decode once more before
 * it sets the extension), so "%2530" is "0" to it. One more round than any
 * PBX costs nothing and can only find a number where there is one.
 */
const DECODE_ROUNDS = 3;

/** Read position and end for next(). */
let pos = 0;
let lim = 0;

/** The next byte of buf[pos, lim) after `rounds` rounds of %HH decoding; -1 at the end, -2 for a broken escape. */
function next(buf: Uint8Array, rounds: number): number {
  if (pos >= lim) return -1;
  if (rounds === 0) return buf[pos++]!;
  const c = next(buf, rounds - 1);
  if (c !== 0x25 /* % */) return c;
  const hi = hexValue(next(buf, rounds - 1));
  const lo = hexValue(next(buf, rounds - 1));
  return hi < 0 || lo < 0 ? -2 : hi * 16 + lo;
}

/**
 * Reads buf[s, e) into NUM; false if it is not a telephone number.
 * %HH escapes are read as the byte they stand for (RFC 3261 §19.1.2, RFC
 * 3986 §2.1), over several rounds (DECODE_ROUNDS): the PBX unescapes the
 * user part before it dials it, so "sip:%30%30%34%36...@pbx" is the number
 * 0046... to it. A ';', plain or escaped, ends the number: to the PBX it is
 * data after the digits. So does any other byte after at least one digit
 * ("0046701234567#", "...x", "...%00"): a dialplan pattern such as _00X.
 * matches what follows the digits, and chan_sip's decoding ends the string
 * at a NUL. Such a number sets junkEnded.
 */
function readNumber(buf: Uint8Array, s: number, e: number): boolean {
  numLen = 0;
  junkEnded = false;
  pos = s;
  lim = e;
  let rounds = 0;
  for (let p = s; p < e; p++) if (buf[p] === 0x25) rounds = DECODE_ROUNDS;
  for (;;) {
    const c = next(buf, rounds);
    if (c === -1 || c === 0x3b /* ; */) break;
    if ((c >= 0x30 && c <= 0x39) || (c === PLUS && numLen === 0)) {
      if (numLen === NUM.length) return false;
      NUM[numLen++] = c;
    } else if (c !== 0x2d && c !== 0x2e && c !== 0x28 && c !== 0x29) {
      if (numLen === 0 || (numLen === 1 && NUM[0] === PLUS)) return false; // "alice", "*97": not a number
      // After a letter the digits were likely a name's ("0004F2ABCDEF", a
      // phone's MAC as its user): only a number long enough counts. After
      // '#', '*', a control byte, a dialplan reads the digits as dialled.
      junkEnded = !((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a));
      break;
    }
  }
  return numLen > 0 && !(numLen === 1 && NUM[0] === PLUS);
}

/** Length of the first prefix of `index` that NUM[at, numLen) starts with (longest first), -1 if none. */
function prefixAt(at: number, index: PrefixIndex): number {
  if (at >= numLen) return -1;
  const list = index[NUM[at]!]!;
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    if (at + p.length > numLen) continue;
    let j = 1; // the first byte chose the list
    while (j < p.length && NUM[at + j] === p[j]) j++;
    if (j === p.length) return p.length;
  }
  return -1;
}

/** Whether '0' + NUM[at, numLen) starts with one of `index` (a home number in international form, read nationally). */
function trunkPrefixAt(at: number, index: PrefixIndex): boolean {
  const list = index[0x30]!;
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    if (at + p.length - 1 > numLen) continue;
    let j = 1;
    while (j < p.length && NUM[at + j - 1] === p[j]) j++;
    if (j === p.length) return true;
  }
  return false;
}

/** The rule id ('toll-...') the number buf[s, e) falls under, '' if none. */
export function tollFraudRule(buf: Uint8Array, s: number, e: number, t: CompiledTollFraud): string {
  if (!readNumber(buf, s, e)) return '';
  let at = Math.max(0, prefixAt(0, t.stripPrefixes));
  const intl = prefixAt(at, t.internationalPrefixes);
  if (intl > 0) {
    const cc = at + intl;
    // '#', '*'... after the digits: the dialplan pattern matches whatever follows, so any digit after the prefix counts.
    if (numLen - cc >= (junkEnded ? 1 : MIN_INTERNATIONAL_DIGITS) && NUM[cc] !== PLUS) {
      if (prefixAt(cc, t.highRiskCountryCodes) > 0) return TOLL_HIGH_RISK;
      const home = prefixAt(cc, t.homeCountryCodes);
      if (home < 0) return t.blockInternational ? TOLL_INTERNATIONAL : '';
      // A home number in international form: premium ranges are national.
      const nsn = cc + home;
      return prefixAt(nsn, t.premiumPrefixes) > 0 || trunkPrefixAt(nsn, t.premiumPrefixes) ? TOLL_PREMIUM : '';
    }
  }
  return prefixAt(at, t.premiumPrefixes) > 0 ? TOLL_PREMIUM : '';
}
