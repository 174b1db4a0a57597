// Every detection rule ships with sample messages, and the suite runs them
// (the CrowdSec hub model): a rule without samples fails here, and so does a
// sample directory naming no rule.

import t from 'tap';
import { R_RATE_ALL, R_RATE_INVITE, R_RATE_REGISTER, R_STRICT, REASON_NAMES } from '../../src/engine/reasons.js';
import { VERDICT_ACCEPT, VERDICT_ACCEPT_TRUST, VERDICT_DROP } from '../../src/engine/verdicts.js';
import { allRulesConfig, configWith, engineFor, Judge, sampleDirs, samples, SECRET } from '../helpers/engine-fixtures.js';

const defaults = configWith();
const signatureRules = [...Object.keys(defaults.userAgents), ...Object.keys(defaults.fingerprints)];
const RATE: Record<string, { reason: number; limit: number }> = {
  'rate-register': { reason: R_RATE_REGISTER, limit: defaults.rateLimits.register.limit },
  'rate-invite': { reason: R_RATE_INVITE, limit: defaults.rateLimits.invite.limit },
  'rate-all': { reason: R_RATE_ALL, limit: defaults.rateLimits.all.limit },
};
const allRules = [...signatureRules, ...Object.keys(RATE), 'strict'];

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
      if (last.verdict === VERDICT_ACCEPT) accepted++;
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
