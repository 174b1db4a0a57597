// Which toll-fraud pattern a dialled number matches: the Request-URI user
// of an INVITE from an untrusted source, read as a telephone number.
//
// The user part may carry visual separators (RFC 3966 §5.1.1: "-", ".",
// "(", ")") and user parameters after ';' (RFC 3261 §19.1.6,
// "+1555;phone-context=..."); anything else that is not a digit means it is
// not a number (an extension named "alice"), which no rule here matches.
// Called for initial INVITEs from untrusted sources only, so the few
// strings it builds are not on the hot path.

import type { CompiledTollFraud } from '../rules/compile-rules.js';

export const TOLL_INTERNATIONAL = 'toll-international';
export const TOLL_HIGH_RISK = 'toll-high-risk';
export const TOLL_PREMIUM = 'toll-premium';

/** Shorter than this after the international prefix is not a dialable foreign number (E.164 numbers run 8-15 digits with the country code). */
const MIN_INTERNATIONAL_DIGITS = 5;
const MAX_DIGITS = 32;

/** The number in buf[s, e) ("+" kept, separators dropped), or null if it is not one. */
export function dialledNumber(buf: Uint8Array, s: number, e: number): string | null {
  let out = '';
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c >= 0x30 && c <= 0x39) out += String.fromCharCode(c);
    else if (c === 0x2b /* + */ && out === '') out = '+';
    else if (c === 0x3b /* ; */) break;
    else if (c !== 0x2d && c !== 0x2e && c !== 0x28 && c !== 0x29) return null;
    if (out.length > MAX_DIGITS) return null;
  }
  return out === '' || out === '+' ? null : out;
}

const startsWithAny = (s: string, list: string[]): string | null => {
  for (const p of list) if (s.startsWith(p)) return p;
  return null;
};

/** The rule id ('toll-...') the number buf[s, e) falls under, '' if none. */
export function tollFraudRule(buf: Uint8Array, s: number, e: number, t: CompiledTollFraud): string {
  let num = dialledNumber(buf, s, e);
  if (num === null) return '';
  const strip = startsWithAny(num, t.stripPrefixes);
  if (strip !== null) num = num.slice(strip.length);
  const intl = startsWithAny(num, t.internationalPrefixes);
  if (intl !== null) {
    const rest = num.slice(intl.length);
    if (rest.length >= MIN_INTERNATIONAL_DIGITS && !rest.startsWith('+')) {
      if (startsWithAny(rest, t.highRiskCountryCodes) !== null) return TOLL_HIGH_RISK;
      const home = startsWithAny(rest, t.homeCountryCodes);
      if (home === null) return t.blockInternational ? TOLL_INTERNATIONAL : '';
      // A home number in international form: premium ranges are national.
      const nsn = rest.slice(home.length);
      return startsWithAny(nsn, t.premiumPrefixes) !== null || startsWithAny(`0${nsn}`, t.premiumPrefixes) !== null ? TOLL_PREMIUM : '';
    }
  }
  return startsWithAny(num, t.premiumPrefixes) !== null ? TOLL_PREMIUM : '';
}
