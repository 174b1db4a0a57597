// The name -> id tries: every canonical header name and compact form in any
// case, every method only in its exact case, near misses unknown, non-token
// bytes never part of a name.

import t from 'tap';
import { headerId, methodId, methodToken, METHOD_WALK } from '../../src/sip/header-names.js';
import { HEADER_NAMES, H_CALL_ID, H_CONTENT_LENGTH, H_OTHER, H_VIA, METHOD_NAMES, M_OTHER } from '../../src/sip/constants.js';

const id = (s: string): number => headerId(Buffer.from(s, 'latin1'), 0, s.length);
const mid = (s: string): number => methodId(Buffer.from(s, 'latin1'), 0, s.length);

t.test('header names, case-insensitive (RFC 3261 §7.3.1)', async (t) => {
  for (let h = 1; h < HEADER_NAMES.length; h++) {
    const name = HEADER_NAMES[h]!;
    t.equal(id(name), h, name);
    t.equal(id(name.toLowerCase()), h);
    t.equal(id(name.toUpperCase()), h);
    const mixed = name.split('').map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('');
    t.equal(id(mixed), h, mixed);
    t.equal(id(name + 'x'), H_OTHER, `${name}x`);
    if (name.length > 2) t.equal(id(name.slice(0, -1)), H_OTHER, `${name} minus its last byte`);
  }
  t.equal(id('v'), H_VIA);
  t.equal(id('I'), H_CALL_ID);
  t.equal(id('L'), H_CONTENT_LENGTH);
  t.equal(id('q'), H_OTHER);
  t.equal(id(''), H_OTHER);
  t.equal(id('Via:'), H_OTHER, 'a non-token byte is never part of a name');
  t.equal(id('Call ID'), H_OTHER);
  t.equal(id('Call-ID\u00e9'), H_OTHER);
  t.equal(id('X-Long-' + 'a'.repeat(500)), H_OTHER);
});

t.test('methods, in any case (Kamailio reads "invite" as INVITE, though RFC 3261 §7.1 says case-sensitive)', async (t) => {
  for (let m = 1; m < METHOD_NAMES.length; m++) {
    const name = METHOD_NAMES[m]!;
    t.equal(mid(name), m, name);
    t.equal(mid(name.toLowerCase()), m, name.toLowerCase());
    t.equal(mid(name[0] + name.slice(1).toLowerCase()), m);
    t.equal(mid(name + 'S'), M_OTHER);
    t.equal(mid(name.slice(1)), M_OTHER);
  }
  t.equal(mid('OTHER'), M_OTHER);
  t.equal(mid('RE%47IST%45R'), M_OTHER, 'no unescaping (RFC 4475 esc02)');
  const buf = Buffer.from('REGISTER sip:x', 'latin1');
  t.equal(methodToken(buf, 0, buf.length), 8, 'stops at the first non-token byte');
  t.equal(METHOD_WALK[0], mid('REGISTER'));
  t.equal(methodToken(buf, 0, 3), 3, 'stops at the end given');
  t.equal(METHOD_WALK[0], M_OTHER);
});
