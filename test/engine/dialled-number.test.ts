// The dialled-number reader behind the toll-fraud rules: what counts as a
// number, which prefix wins, and the home-country and outside-line knobs.

import t from 'tap';
import { tollFraudRule } from '../../src/engine/dialled-number.js';
import { compileRules } from '../../src/rules/compile-rules.js';
import { configWith } from '../helpers/engine-fixtures.js';

const defaults = configWith().tollFraud;
const rule = (user: string, over: Partial<typeof defaults> = {}): string => {
  const toll = compileRules(configWith({ tollFraud: { ...defaults, ...over } })).toll;
  const buf = Buffer.from(user, 'latin1');
  return tollFraudRule(buf, 0, buf.length, toll);
};

t.test('what is a number', async (t) => {
  t.equal(rule('1002'), '', 'an extension');
  t.equal(rule('alice'), '', 'a name is not a number');
  t.equal(rule('00alice44'), '', 'letters anywhere: not a number');
  t.equal(rule('+'), '', 'a lone plus');
  t.equal(rule('+44 20'), 'toll-international', 'a space is no separator RFC 3966 allows: it ends the number, +44, which a dialplan pattern still matches');
  t.equal(rule('(0044) 207.946-0000'.replace(' ', '')), 'toll-international', 'visual separators are dropped');
  t.equal(rule('+442079460000;phone-context=example.com'), 'toll-international', 'user parameters after ; are ignored');
  t.equal(rule('0'.repeat(40)), '', 'too long to be a number');
  t.equal(rule('00123'), '', 'too short after the prefix to be a foreign number');
  t.equal(rule('++442079460000'), '', 'a second plus makes it not a number');
});

t.test('escaped digits are the digits the PBX dials', async (t) => {
  // The PBX unescapes the user part (RFC 3261 §19.1.2) before dialling it.
  t.equal(rule('%30%30%34%36701234567'), 'toll-international', '%30 is 0');
  t.equal(rule('%2B46701234567'), 'toll-international', '%2B is +');
  t.equal(rule('%2b46701234567'), 'toll-international', 'hex digits in either case');
  t.equal(rule('09%30%30123456'), 'toll-premium');
  t.equal(rule('%2B%2B46701234567'), '', 'an escaped second plus is still a second plus');
  t.equal(rule('0046701234567%3Bx'), 'toll-international', 'an escaped ; ends the number like a plain one');
  t.equal(rule('%41%42'), '', 'escaped letters are letters');
  // A broken escape ends the number like any other byte after the digits (chan_sip's decoding keeps it as it is, and _00X. matches on).
  t.equal(rule('0046%3'), 'toll-international', 'a cut escape ends the number');
  t.equal(rule('0046%G1'), 'toll-international', 'a bad escape too');
  t.equal(rule('0046701234567%'), 'toll-international', 'a lone %');
  t.equal(rule('%G1'), '', 'nothing before it: not a number');
});

t.test('what Asterisk\'s chan_sip dials past a single decoding and plain digits (review against chan_sip)', async (t) => {
  // get_destination(): SIP_PEDANTIC_DECODE, then ast_uri_decode() once more before the extension is set.
  t.equal(rule('%2530%2530%2534%2536701234567'), 'toll-international', 'escaped twice: 0046701234567 to chan_sip');
  t.equal(rule('%252530%2530%2534%2536701234567'), 'toll-international', 'three times: read too (one round more than any PBX)');
  t.equal(rule('%2541lice'), '', 'an escaped escaped letter is a letter');
  // Bytes after the digits: _00X. matches them, and a NUL ends chan_sip's decoded string.
  t.equal(rule('0046701234567%00'), 'toll-international', 'an escaped NUL after the digits');
  t.equal(rule('0046701234567x'), 'toll-international', 'a letter after the digits');
  t.equal(rule('0046701234567%23'), 'toll-international', 'a # after the digits');
  t.equal(rule('004#'), 'toll-international', 'even a short number, once bytes follow it (_00X. matches 004#)');
  t.equal(rule('004'), '', 'but not a short number alone (a short code, not a foreign number)');
  t.equal(rule('x0046701234567'), '', 'a byte before the digits: no number, and no _00X. match either');
  // Users that start with digits and go on with letters are names, not short numbers.
  t.equal(rule('0004F2ABCDEF'), '', 'a Polycom MAC as the user');
  t.equal(rule('001565aabbcc'), '', 'a Yealink MAC');
  t.equal(rule('001alice'), '', 'digits then a name');
  t.equal(rule('004670123x'), 'toll-international', 'but a whole number then a letter still counts');
});

t.test('which rule', async (t) => {
  t.equal(rule('011442079460000'), 'toll-international', '011 wins over 0');
  t.equal(rule('+88216000000'), 'toll-high-risk');
  t.equal(rule('0088216000000', { blockInternational: false }), 'toll-high-risk', 'high risk stays with international allowed');
  t.equal(rule('0049301234567', { blockInternational: false }), '', 'international allowed');
  t.equal(rule('19005550100'), 'toll-premium');
  t.equal(rule('9011442079460000', { stripPrefixes: ['9'] }), 'toll-international', 'outside-line digit stripped');
  t.equal(rule('9011442079460000'), '', 'not stripped by default: 9011... is not a known pattern');
  t.equal(rule('+442079460000', { homeCountryCodes: ['44'] }), '', 'home country');
  t.equal(rule('+449012345678', { homeCountryCodes: ['44'] }), 'toll-premium', 'home premium range (09 read as 0 + 9...)');
  t.equal(rule('+37167000001', { homeCountryCodes: ['371'] }), 'toll-high-risk', 'high risk wins over home');
  t.equal(rule('+442079460000', { internationalPrefixes: ['00'] }), '', 'plus not listed: not international');
});
