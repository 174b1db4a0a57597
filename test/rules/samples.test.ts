// Every detection rule ships with sample messages, and the suite runs them
// (the CrowdSec hub model): a rule without samples fails here, and so does a
// sample directory naming no rule.

import t from 'tap';
import { R_RATE_ALL, R_RATE_INVITE, R_RATE_REGISTER, R_STRICT, REASON_NAMES } from '../../src/engine/reasons.js';
import { TOLL_HIGH_RISK, TOLL_INTERNATIONAL, TOLL_PREMIUM } from '../../src/engine/dialled-number.js';
import { VERDICT_ACCEPT, VERDICT_ACCEPT_TRUST, VERDICT_ACCEPT_WATCH, VERDICT_DROP } from '../../src/engine/verdicts.js';
import { allRulesConfig, configWith, engineFor, Judge, sampleDirs, samples, SECRET } from '../helpers/engine-fixtures.js';

const defaults = configWith();
const signatureRules = [...Object.keys(defaults.userAgents), ...Object.keys(defaults.fingerprints)];
const RATE: Record<string, { reason: number; limit: number }> = {
  'rate-register': { reason: R_RATE_REGISTER, limit: defaults.rateLimits.register.limit },
  'rate-invite': { reason: R_RATE_INVITE, limit: defaults.rateLimits.invite.limit },
  'rate-all': { reason: R_RATE_ALL, limit: defaults.rateLimits.all.limit },
};
const TOLL = [TOLL_INTERNATIONAL, TOLL_HIGH_RISK, TOLL_PREMIUM];
const BEHAVIOUR = ['call-limit', 'distinct-users', 'auth-failures', 'unknown-users'];
const allRules = [...signatureRules, ...Object.keys(RATE), 'strict', ...TOLL, ...BEHAVIOUR];

/**
 * Every reason the engine can give is either a detection rule's, whose
 * samples are checked below (by reason name, or by rule id for the reasons
 * several rules share), or none: the list must name each one, so a reason
 * added to reasons.ts fails here until its rule has samples or it is put
 * among the non-detections with why.
 */
const DETECTION_REASONS: Record<string, readonly string[]> = {
  'scanner-ua': Object.keys(defaults.userAgents),
  fingerprint: Object.keys(defaults.fingerprints),
  'rate-register': ['rate-register'],
  'rate-invite': ['rate-invite'],
  'rate-all': ['rate-all'],
  strict: ['strict'],
  'toll-fraud': TOLL,
  'call-limit': ['call-limit'],
  'distinct-users': ['distinct-users'],
  'auth-failures': ['auth-failures'],
  'unknown-users': ['unknown-users'],
};
const NOT_DETECTION: Record<string, string> = {
  ok: 'accepted', blocked: "the admin's list", banned: 'a ban already made', 'trusted-list': "the admin's list",
  trusted: 'trust already earned', 'secret-host': 'earns trust (samples in _legit)', response: 'answers pass',
  keepalive: 'RFC 5626 ping', stun: 'STUN on the port', 'non-sip': 'payload policy', 'invalid-sip': 'parser verdict (test/sip)',
  'no-payload': 'TCP handshake', undecodable: 'packet decode (test/packet)', 'flow-dropped': 'a TCP verdict already made',
  partial: 'TCP reassembly', 'tcp-gap': 'TCP reassembly', retransmit: 'TCP reassembly', manual: 'sipwall ban',
  answer: 'what the PBX sends', 'auth-trust': 'earns trust', 'tcp-overlap': 'TCP reassembly', 'tcp-old': 'TCP reassembly',
  tls: 'payload policy (inline.tlsPorts)', 'tcp-flags': 'TCP reassembly',
};

t.test('every reason the engine gives is a detection rule with samples, or named as none', async (t) => {
  for (const name of REASON_NAMES) {
    const rules = DETECTION_REASONS[name];
    t.ok((rules !== undefined) !== (NOT_DETECTION[name] !== undefined), `reason ${name} is classified exactly once`);
    for (const id of rules ?? []) t.ok(allRules.includes(id), `reason ${name}: rule ${id} is among the rules whose samples are checked`);
  }
  for (const name of [...Object.keys(DETECTION_REASONS), ...Object.keys(NOT_DETECTION)]) t.ok(REASON_NAMES.includes(name), `${name} is a reason`);
  t.same([...new Set(Object.values(DETECTION_REASONS).flat())].sort(), [...new Set(allRules)].sort(), 'and the rules checked are exactly those');
});

/** A sample with its Call-ID, CSeq number and To/From user made unique for round i (same Via branch: it is the CSeq that differs). */
function variant(data: Buffer, i: number, opts: { user?: boolean; callId?: boolean } = {}): string {
  let text = data.toString('latin1').replace(/^(CSeq:\s*)(\d+)/im, (_m, h: string, n: string) => `${h}${Number(n) + i}`);
  if (opts.callId === true) text = text.replace(/^(Call-ID:\s*)/im, `$1r${i}-`);
  if (opts.user === true) text = text.replace(/sip:(\d+)@/g, (_m, u: string) => `sip:${Number(u) + i}@`);
  return text;
}

t.test('every shipped rule has at least one sample, and every sample directory names a rule', async (t) => {
  const dirs = sampleDirs().filter((d) => !d.startsWith('_'));
  for (const id of allRules) t.ok(dirs.includes(id) && samples(id).length > 0, `rule ${id} has samples in rules/samples/${id}/`);
  for (const dir of dirs) t.ok(allRules.includes(dir), `rules/samples/${dir}/ belongs to a shipped rule`);
  t.ok(sampleDirs().includes('_legit') && samples('_legit').length >= 5, 'legitimate samples exist');
});

t.test('each signature sample is dropped by its own rule, and the source banned', async (t) => {
  for (const id of signatureRules) {
    for (const s of samples(id)) {
      const j = new Judge(engineFor(allRulesConfig()));
      const d = j.udp('198.51.100.7', s.data, 1_000_000);
      t.equal(d.verdict, VERDICT_DROP, `${id}/${s.name} dropped`);
      t.equal(d.ruleId, id, `${id}/${s.name} caught by ${id} (got ${d.ruleId || REASON_NAMES[d.reason]})`);
      t.ok(d.ban && d.banSeconds === defaults.bans.baseSeconds, `${id}/${s.name} bans for ${defaults.bans.baseSeconds}s`);
      const next = j.udp('198.51.100.7', samples('_legit')[0]!.data, 1_000_001);
      t.equal(REASON_NAMES[next.reason], 'banned', `${id}: the banned source's next packet is dropped as banned`);
    }
  }
});

t.test('opt-in rules are off in the shipped defaults', async (t) => {
  for (const id of ['sipsak', 'portsip-voip-sdk']) {
    t.equal(defaults.userAgents[id]?.enabled, false, `${id} ships disabled`);
    const j = new Judge(engineFor(configWith()));
    t.equal(j.udp('198.51.100.7', samples(id)[0]!.data, 0).verdict, VERDICT_ACCEPT, `${id} sample accepted by the defaults`);
  }
});

t.test('rate-limit samples: the limit passes, the next one is dropped and bans', async (t) => {
  for (const [id, { reason, limit }] of Object.entries(RATE)) {
    const msg = samples(id)[0]!.data;
    const j = new Judge(engineFor(configWith()));
    let accepted = 0;
    let last = j.d;
    for (let i = 0; i < limit + 1; i++) {
      last = j.udp('198.51.100.7', msg, 5_000_000 + i);
      if (last.verdict !== VERDICT_DROP) accepted++;
      else break;
    }
    t.equal(accepted, limit, `${id}: ${limit} accepted in one window`);
    t.equal(last.reason, reason, `${id}: the next is dropped for ${REASON_NAMES[reason]}`);
    t.ok(last.ban, `${id}: and the source is banned`);
  }
});

t.test('strict sample: dropped in strict mode, accepted without it', async (t) => {
  const msg = samples('strict')[0]!.data;
  const strict = new Judge(engineFor(configWith({ secretHosts: [SECRET], strict: true })));
  const d = strict.udp('198.51.100.7', msg, 0);
  t.equal(d.verdict, VERDICT_DROP);
  t.equal(d.reason, R_STRICT);
  t.notOk(d.ban, 'strict mode drops without banning');
  const lax = new Judge(engineFor(configWith({ secretHosts: [SECRET] })));
  t.equal(lax.udp('198.51.100.7', msg, 0).verdict, VERDICT_ACCEPT);
});

t.test('legitimate samples pass with every rule switched on', async (t) => {
  for (const s of samples('_legit')) {
    const j = new Judge(engineFor(allRulesConfig()));
    const d = j.udp('198.51.100.20', s.data, 0);
    t.not(d.verdict, VERDICT_DROP, `_legit/${s.name} accepted (got ${REASON_NAMES[d.reason]} ${d.ruleId})`);
  }
  const j = new Judge(engineFor(allRulesConfig()));
  const d = j.udp('198.51.100.21', samples('_legit').find((s) => s.name.includes('secret'))!.data, 0);
  t.equal(d.verdict, VERDICT_ACCEPT_TRUST, 'a request to the secret host trusts its source');
});

t.test('toll-fraud samples: each dropped by its own rule and the source banned; trusted sources may dial them', async (t) => {
  for (const id of TOLL) {
    for (const s of samples(id)) {
      const j = new Judge(engineFor(configWith()));
      const d = j.udp('198.51.100.7', s.data, 1_000_000);
      t.equal(d.verdict, VERDICT_DROP, `${id}/${s.name} dropped`);
      t.equal(d.ruleId, id, `${id}/${s.name} caught by ${id} (got ${d.ruleId || REASON_NAMES[d.reason]})`);
      t.ok(d.ban, `${id}/${s.name} bans`);
      const tagged = s.data.toString('latin1').replace(/(\r\nTo: <[^>]*>)/, '$1;tag=forged');
      t.equal(new Judge(engineFor(configWith())).udp('198.51.100.7', tagged, 0).ruleId, id, `${id}/${s.name} with a forged To tag: still caught`);
      const trusted = new Judge(engineFor(configWith({ trusted: ['198.51.100.0/24'] })));
      t.not(trusted.udp('198.51.100.7', s.data, 0).verdict, VERDICT_DROP, `${id}/${s.name} from a trusted trunk passes`);
      const off = new Judge(engineFor(configWith({ tollFraud: { ...defaults.tollFraud, enabled: false } })));
      t.equal(off.udp('198.51.100.7', s.data, 0).verdict, VERDICT_ACCEPT, `${id}/${s.name} passes with tollFraud off (no call limit either: its answers need no watching)`);
    }
  }
  // The home country is not international, its premium ranges still are.
  const uk = new Judge(engineFor(configWith({ tollFraud: { ...defaults.tollFraud, homeCountryCodes: ['44'] } })));
  t.equal(uk.udp('198.51.100.7', samples('toll-international').find((s) => s.name.startsWith('uk'))!.data, 0).verdict, VERDICT_ACCEPT_WATCH, 'homeCountryCodes: +44 passes a UK PBX');
  const intlOff = new Judge(engineFor(configWith({ tollFraud: { ...defaults.tollFraud, blockInternational: false } })));
  t.equal(intlOff.udp('198.51.100.7', samples('toll-high-risk')[0]!.data, 0).ruleId, 'toll-high-risk', 'high-risk codes stay blocked with blockInternational off');
});

t.test('call-limit sample: the next call beyond maxConcurrentCalls is dropped (not banned); a BYE frees a place', async (t) => {
  const max = defaults.tollFraud.maxConcurrentCalls;
  const msg = samples('call-limit')[0]!.data;
  const j = new Judge(engineFor(configWith()));
  for (let i = 0; i < max; i++) t.equal(j.udp('198.51.100.7', variant(msg, i, { callId: true }), 1000 + i).verdict, VERDICT_ACCEPT_WATCH, `call ${i + 1} of ${max}`);
  t.equal(j.udp('198.51.100.7', variant(msg, 0, { callId: true }), 1100).verdict, VERDICT_ACCEPT_WATCH, 'a retransmission of an open call is not a new call');
  const reinvite = variant(msg, max + 50, { callId: true }).replace(/(\r\nTo: <[^>]*>)/, '$1;tag=pbx9');
  t.equal(j.udp('198.51.100.7', reinvite, 1150).verdict, VERDICT_ACCEPT_WATCH, 'an INVITE inside a dialog (To tag) is not a new call');
  const over = j.udp('198.51.100.7', variant(msg, max, { callId: true }), 1200);
  t.equal(over.verdict, VERDICT_DROP);
  t.equal(over.ruleId, 'call-limit');
  t.notOk(over.ban, 'call-limit drops without banning');
  const bye = variant(msg, 0, { callId: true }).replace(/^INVITE /, 'BYE ').replace(/CSeq: (\d+) INVITE/, 'CSeq: $1 BYE').replace(/(\r\nTo: <[^>]*>)/, '$1;tag=pbx1');
  // The PBX's answer to a request: its Via, From, To, Call-ID and CSeq copied (RFC 3261 §8.2.6.2).
  const reply = (req: string, status: string): string =>
    [`SIP/2.0 ${status}`, ...req.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)), 'Content-Length: 0', '', ''].join('\r\n');
  t.equal(j.udp('198.51.100.7', bye, 1300).verdict, VERDICT_ACCEPT_WATCH, 'BYE of the first call: its answer is watched');
  t.equal(j.udp('198.51.100.7', variant(msg, max, { callId: true }), 1310).ruleId, 'call-limit', 'the BYE alone frees nothing');
  const fake = bye.replace(/Call-ID: r0-/, 'Call-ID: r0-fake-');
  t.equal(j.udp('198.51.100.7', fake, 1320).verdict, VERDICT_ACCEPT_WATCH, 'a BYE for a dialog the PBX does not know');
  j.answer('198.51.100.7', reply(fake, '481 Call/Transaction Does Not Exist'), 1330);
  t.equal(j.udp('198.51.100.7', variant(msg, max, { callId: true }), 1340).ruleId, 'call-limit', 'refused with a 481: frees nothing');
  t.equal(j.answer('198.51.100.7', reply(bye, '200 OK'), 1350).verdict, VERDICT_ACCEPT, 'the PBX accepts the BYE');
  t.equal(j.udp('198.51.100.7', variant(msg, max, { callId: true }), 1400).verdict, VERDICT_ACCEPT_WATCH, 'then a new call fits');
  // A CANCEL ends a call when the PBX ends the INVITE with a 487.
  const cancel = variant(msg, 2, { callId: true }).replace(/^INVITE /, 'CANCEL ').replace(/CSeq: (\d+) INVITE/, 'CSeq: $1 CANCEL');
  j.udp('198.51.100.7', cancel, 1410);
  t.equal(j.udp('198.51.100.7', variant(msg, max + 2, { callId: true }), 1420).ruleId, 'call-limit', 'the CANCEL alone frees nothing');
  j.answer('198.51.100.7', reply(variant(msg, 2, { callId: true }), '487 Request Terminated'), 1430);
  t.equal(j.udp('198.51.100.7', variant(msg, max + 2, { callId: true }), 1440).verdict, VERDICT_ACCEPT_WATCH, 'its INVITE\'s 487 does');
  // Without watched answers there is no 2xx to wait for: the BYE itself ends the call.
  const blind = new Judge(engineFor(configWith({ answers: { ...defaults.answers, watch: false } })));
  for (let i = 0; i < max; i++) blind.udp('198.51.100.9', variant(msg, i, { callId: true }), 1000 + i);
  t.equal(blind.udp('198.51.100.9', variant(msg, max, { callId: true }), 1100).ruleId, 'call-limit', 'answers not watched: full');
  t.equal(blind.udp('198.51.100.9', bye.replace(/Call-ID: r0-/, 'Call-ID: r1-'), 1200).verdict, VERDICT_ACCEPT, 'a plain accept for the BYE');
  t.equal(blind.udp('198.51.100.9', variant(msg, max, { callId: true }), 1300).verdict, VERDICT_ACCEPT, 'which ended the call');
  t.equal(j.udp('198.51.100.8', variant(msg, 99, { callId: true }), 1500).verdict, VERDICT_ACCEPT_WATCH, 'the limit is per source');
  // The PBX hangs up one of them: its BYE, leaving the PBX, ends the call too.
  t.equal(j.udp('198.51.100.7', variant(msg, max + 1, { callId: true }), 1600).ruleId, 'call-limit', 'full again');
  const pbxBye = bye.replace(/Call-ID: r0-/, 'Call-ID: r1-');
  t.equal(j.answer('198.51.100.7', pbxBye, 1700).verdict, VERDICT_ACCEPT, 'the PBX\'s BYE is watched and leaves');
  t.equal(j.udp('198.51.100.7', variant(msg, max + 1, { callId: true }), 1800).verdict, VERDICT_ACCEPT_WATCH, 'then a new call fits');
});

t.test('what the PBX sends that no rule reads is let through unparsed', async (t) => {
  const j = new Judge(engineFor(configWith()));
  for (const text of ['SIP/2.0 100 Trying\r\nCall-ID: x\r\n\r\n', 'SIP/2.0 180 Ringing\r\nCall-ID: x\r\n\r\n', 'OPTIONS sip:100@198.51.100.7 SIP/2.0\r\nCall-ID: q\r\nCSeq: 1 OPTIONS\r\n\r\n', 'NOTIFY sip:100@198.51.100.7 SIP/2.0\r\nCall-ID: q\r\nCSeq: 2 NOTIFY\r\n\r\n']) {
    const d = j.answer('198.51.100.7', text, 1000);
    t.equal(d.verdict, VERDICT_ACCEPT, text.split('\r\n')[0]!);
    t.equal(d.messages, 0, `${text.split('\r\n')[0]!}: not parsed`);
  }
  const d = j.answer('198.51.100.7', samples('unknown-users')[1]!.data, 1000);
  t.equal(d.messages, 1, 'a final answer is parsed');
});

t.test('distinct-users sample: limit users pass, the next is dropped and bans', async (t) => {
  const limit = defaults.distinctUsers.limit;
  const msg = samples('distinct-users')[0]!.data;
  const j = new Judge(engineFor(configWith()));
  for (let i = 0; i < limit; i++) t.equal(j.udp('198.51.100.7', variant(msg, i, { user: true }), 1000 + i).verdict, VERDICT_ACCEPT, `user ${i + 1}`);
  t.equal(j.udp('198.51.100.7', variant(msg, 0, { user: true }), 2000).verdict, VERDICT_ACCEPT, 'a user tried again is not a new one');
  const d = j.udp('198.51.100.7', variant(msg, limit, { user: true }), 3000);
  t.equal(d.ruleId, 'distinct-users');
  t.ok(d.ban);
  const later = new Judge(engineFor(configWith()));
  for (let i = 0; i <= limit; i++) {
    const w = defaults.distinctUsers.windowSeconds * 1000;
    t.equal(later.udp('198.51.100.7', variant(msg, i, { user: true }), i * w).verdict, VERDICT_ACCEPT, `one new user per window: ${i + 1}`);
  }
});

for (const [id, reason, windows] of [
  ['auth-failures', 'auth-failures', defaults.answers.authFailures],
  ['unknown-users', 'unknown-users', defaults.answers.unknownUsers],
] as const) {
  t.test(`${id} samples: the PBX's answers ban the source at the limit, within each window`, async (t) => {
    const [req, ans] = samples(id).map((s) => s.data) as [Buffer, Buffer];
    t.ok(req.toString('latin1').startsWith('REGISTER') && ans.toString('latin1').startsWith('SIP/2.0'), 'a request and its answer');
    for (const w of windows) {
      const j = new Judge(engineFor(configWith()));
      // unknownUsers windows are for sources that have authenticated: this one has (a 200 to its credentials).
      if (id === 'unknown-users') authenticate(j, '198.51.100.7', 1);
      // Spread over the window (sliding estimate: end inside it).
      const step = Math.floor((w.windowSeconds * 1000) / (w.limit + 1));
      let banAt = -1;
      let bannedAt = 0;
      for (let i = 0; i < w.limit + 2 && banAt < 0; i++) {
        const now = i * step; // from a window edge: every event inside one window
        const d = j.udp('198.51.100.7', variant(req, i), now);
        if (d.verdict === VERDICT_DROP) break;
        const a = j.answer('198.51.100.7', variant(ans, i), now + 5);
        t.equal(a.verdict, VERDICT_ACCEPT, 'the answer itself always leaves');
        if (a.ban) {
          t.equal(REASON_NAMES[a.reason], reason);
          banAt = i + 1;
          bannedAt = now + 5;
        }
      }
      t.equal(banAt, w.limit, `${w.limit} answers in ${w.windowSeconds}s ban the source at the ${w.limit}th`);
      t.equal(REASON_NAMES[j.udp('198.51.100.7', variant(req, 99), bannedAt + 1000).reason], 'banned', 'its next request is dropped');
    }
    // An answer that matches no request of that source counts for nothing.
    const j = new Judge(engineFor(configWith()));
    for (let i = 0; i < 40; i++) t.notOk(j.answer('198.51.100.7', variant(ans, i), 1000 + i).ban || false, `unmatched answer ${i}`);
    const other = new Judge(engineFor(configWith()));
    for (let i = 0; i < 40; i++) {
      other.udp('198.51.100.7', variant(req, i), 1000 + i);
      t.notOk(other.answer('198.51.100.8', variant(ans, i), 1000 + i).ban, `answer to another address ${i}`);
    }
  });
}

/** A REGISTER with credentials from `src` and the PBX's 200 to it. */
function authenticate(j: Judge, src: string, now: number): void {
  const [req, ans] = samples('auth-failures').map((s) => s.data) as [Buffer, Buffer];
  j.udp(src, variant(req, 1000), now);
  t.notOk(j.answer(src, variant(Buffer.from(ans.toString('latin1').replace('401 Unauthorized', '200 OK'), 'latin1'), 1000), now + 1).ban);
}

t.test('unknown-users before authentication: the first "no such user" answer bans (svwar\'s probe)', async (t) => {
  const [req, ans] = samples('unknown-users').map((s) => s.data) as [Buffer, Buffer];
  t.equal(defaults.answers.unknownUsersBeforeAuth.limit, 1, 'the shipped limit');
  const j = new Judge(engineFor(configWith()));
  j.udp('198.51.100.7', req, 1000);
  const d = j.answer('198.51.100.7', ans, 1005);
  t.ok(d.ban, 'banned at the first 404');
  t.equal(d.verdict, VERDICT_ACCEPT, 'the 404 itself leaves');
  t.equal(REASON_NAMES[d.reason], 'unknown-users');
  const phone = new Judge(engineFor(configWith()));
  authenticate(phone, '198.51.100.9', 500);
  phone.udp('198.51.100.9', req, 1000);
  t.notOk(phone.answer('198.51.100.9', ans, 1005).ban, 'a source that authenticated may misdial');
});

t.test('a phone\'s normal challenge is not a failure; answers.watch false ignores answers', async (t) => {
  const [req, ans] = samples('auth-failures').map((s) => s.data) as [Buffer, Buffer];
  const noCreds = req.toString('latin1').replace(/\r\nAuthorization:[^\r]*/, '');
  const j = new Judge(engineFor(configWith()));
  for (let i = 0; i < 20; i++) {
    j.udp('198.51.100.7', variant(Buffer.from(noCreds, 'latin1'), i), 1000 + i * 100);
    t.notOk(j.answer('198.51.100.7', variant(ans, i), 1000 + i * 100 + 5).ban, `401 to a request without credentials ${i}`);
  }
  const off = new Judge(engineFor(configWith({ answers: { ...defaults.answers, watch: false } })));
  for (let i = 0; i < 20; i++) {
    off.udp('198.51.100.7', variant(req, i), 1000 + i * 100);
    t.notOk(off.answer('198.51.100.7', variant(ans, i), 1000 + i * 100 + 5).ban, `watch off ${i}`);
  }
});

t.test('trustAfterAuthSeconds: a 200 to a REGISTER with credentials trusts the source (off by default)', async (t) => {
  const [req, ans] = samples('auth-failures').map((s) => s.data) as [Buffer, Buffer];
  const ok = ans.toString('latin1').replace('401 Unauthorized', '200 OK');
  const def = new Judge(engineFor(configWith()));
  def.udp('198.51.100.7', req, 1000);
  t.notOk(def.answer('198.51.100.7', ok, 1005).trust, 'off by default');
  const on = new Judge(engineFor(configWith({ answers: { ...defaults.answers, trustAfterAuthSeconds: 600 } })));
  on.udp('198.51.100.7', req, 1000);
  const d = on.answer('198.51.100.7', ok, 1005);
  t.ok(d.trust && d.peerIsDst, 'trusted: the answer\'s destination');
  t.equal(REASON_NAMES[on.udp('198.51.100.7', samples('toll-international')[0]!.data, 2000).reason], 'trusted', 'then even toll rules do not apply to it');
});
