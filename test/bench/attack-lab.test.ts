// The attack lab's quick run (bench/attack-lab, `npm run bench:attack --
// --quick`): Debian's sipvicious (svmap, svwar, svcrack) against a real
// Kamailio registrar in network namespaces the lab creates, once with no
// filter and once with `sipwall start` inline. Asserts what issue 5 requires
// of sipwall (scans learn nothing, no extension is enumerated, the PBX sees
// at most the configured threshold of requests) and that the unfiltered PBX
// does leak, so that a lab that measured nothing fails instead of making
// sipwall look perfect.
//
// Needs root and the lab's Debian packages (kamailio, sipvicious, baresip,
// sip-tester, fail2ban, gnuplot-nox). CI installs them
// (scripts/setup-debian.sh --test): there a missing one fails; elsewhere it
// is a visible skip. The test installs nothing.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse as parseYaml } from 'yaml';
import { parseTable } from '../../bench/attack-lab/sipvicious.js';
import { RegistrationTracker } from '../../bench/attack-lab/baresip-phone.js';
import { missingTools } from '../../bench/attack-lab/tools.js';
import type { RunResult } from '../../bench/attack-lab/run-scenario.js';

const LAB = join(process.cwd(), 'dist', 'bench', 'attack-lab', 'main.js');
const root = process.getuid?.() === 0;
const missing = missingTools();
const inCi = process.env['CI'] === 'true';
const skip = !root ? 'needs root (network namespaces, iptables, NFQUEUE)' : missing.length > 0 && !inCi ? `not installed: ${missing.join(', ')} (run bash bench/attack-lab/setup.sh)` : false;

// The quick run takes about a minute; tap's per-file default is shorter.
t.setTimeout(300_000);

/** Runs the lab with `args` (no chart, results in a temp file) and returns its results; null (after a failed assertion) when it did not write them. */
function runLab(t: Test, args: string[]): RunResult[] | null {
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-attack-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'attack.json');
  const run = spawnSync(process.execPath, [LAB, ...args, '--no-chart', '--out', out], { encoding: 'utf8', timeout: 240_000, killSignal: 'SIGTERM' });
  t.equal(run.status, 0, `the lab ran every scenario (stderr: ${run.stderr.slice(-2000)})`);
  try {
    return (JSON.parse(readFileSync(out, 'utf8')) as { results: RunResult[] }).results;
  } catch (e) {
    t.fail(`no results file: ${(e as Error).message}; stdout: ${run.stdout.slice(-2000)}`);
    return null;
  }
}

t.test('bad usage: unknown flags are errors, --help prints the usage', async (t) => {
  const bad = spawnSync(process.execPath, [LAB, '--no-such-flag'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(bad.status, 64, 'exit 64');
  t.match(bad.stderr, /unknown option --no-such-flag/);
  const scen = spawnSync(process.execPath, [LAB, '--scenarios', '9'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(scen.status, 64, 'an unknown scenario is bad usage too');
  const help = spawnSync(process.execPath, [LAB, '--help'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(help.status, 0);
  t.match(help.stdout, /--quick/);
});

t.test('parsers of the tools\' output', async (t) => {
  // svwar's result table as sipvicious 0.3.3 prints it (pptable).
  const svwar = ['+-----------+----------------+', '| Extension | Authentication |', '+===========+================+', '| 100       | reqauth        |', '+-----------+----------------+', '| 103       | reqauth        |', '+-----------+----------------+'];
  t.same(parseTable(svwar), [['100', 'reqauth'], ['103', 'reqauth']]);
  t.same(parseTable(['WARNING:TakeASip:No server response']), [], 'no table, nothing learned');

  // baresip -s: a REGISTER, its 401, the authenticated REGISTER, its 200.
  const tr = new RegistrationTracker();
  const block = (dir: string, start: string, cseq: string, at: number): void => {
    for (const l of ['\x1b[36;1m#', dir, start, 'Call-ID: abc', `CSeq: ${cseq}`, 'Content-Length: 0', '', '\x1b[;m']) tr.line(l, at);
  };
  block('UDP 10.66.0.3:5060 -> 10.66.0.1:5060', 'REGISTER sip:secret SIP/2.0', '1 REGISTER', 1000);
  block('UDP 10.66.0.1:5060 -> 10.66.0.3:5060', 'SIP/2.0 401 Unauthorized', '1 REGISTER', 1003);
  block('UDP 10.66.0.3:5060 -> 10.66.0.1:5060', 'REGISTER sip:secret SIP/2.0', '2 REGISTER', 1004);
  t.same(tr.registrations.map((r) => r.end), [null], 'a challenge does not end the registration');
  block('UDP 10.66.0.1:5060 -> 10.66.0.3:5060', 'SIP/2.0 200 OK', '2 REGISTER', 1010);
  t.same(tr.registrations.map((r) => ({ ok: r.ok, ms: (r.end ?? 0) - r.start })), [{ ok: true, ms: 10 }]);
});

t.test('quick lab: sipwall stops svmap, svwar and svcrack; the unfiltered PBX leaks', { skip }, async (t) => {
  if (missing.length > 0) {
    // Only reached in CI: the packages are part of what CI installs.
    t.fail(`CI must install the lab's packages (scripts/setup-debian.sh --test); missing: ${missing.join(', ')}`);
    return;
  }
  const results = runLab(t, ['--quick']);
  if (results === null) return;
  const get = (scenario: string, setup: string): RunResult => {
    const r = results.find((x) => x.scenario === scenario && x.setup === setup);
    if (r === undefined) throw new Error(`no result for ${scenario}/${setup}`);
    return r;
  };
  const rules = parseYaml(readFileSync(join(process.cwd(), 'rules', 'default.yaml'), 'utf8')) as { rateLimits: { register: { limit: number } } };
  const threshold = rules.rateLimits.register.limit;

  for (const r of results) t.ok(r.ok, `${r.scenario}/${r.setup} ran${r.error !== undefined ? `: ${r.error}` : ''}`);

  // No filter: the PBX answers the scanner, the enumerator and the cracker.
  const mapNone = get('1-svmap', 'none');
  t.equal(mapNone.learned.devices, 1, 'no filter: svmap finds the PBX');
  const warNone = get('2-svwar-register', 'none');
  t.equal(warNone.learned.realExtensions, 4, `no filter: svwar learns the four extensions (${warNone.learned.extensions.join(' ')})`);
  t.ok(warNone.reached > 800, `no filter: svwar's ~900 REGISTERs reach Kamailio (${warNone.reached})`);
  const crackNone = get('3-svcrack', 'none');
  t.ok(crackNone.learned.passwordFound, 'no filter: svcrack finds the weak password of 103');
  t.ok(crackNone.passwordsTried > 200, `no filter: it tried ${crackNone.passwordsTried} passwords against Kamailio`);

  // sipwall: nothing learned, at most the threshold of requests reached the PBX, the attacker cut off.
  for (const id of ['1-svmap', '2-svwar-register', '3-svcrack']) {
    const r = get(id, 'sipwall');
    t.ok(r.reached <= threshold, `sipwall: ${id} reached Kamailio with ${r.reached} requests (threshold ${threshold})`);
    t.ok(r.attackerPackets > 0, `sipwall: ${id} did attack (${r.attackerPackets} packets sent)`);
    t.not(r.cutOffSeconds, null, `sipwall: ${id} was cut off`);
    t.ok((r.filterMaxRssBytes ?? 0) > 0, 'sipwall\'s memory is reported');
  }
  t.equal(get('1-svmap', 'sipwall').learned.devices, 0, 'sipwall: svmap learns nothing');
  const warSw = get('2-svwar-register', 'sipwall');
  t.same(warSw.learned.extensions, [], 'sipwall: svwar learns no extension');
  const crackSw = get('3-svcrack', 'sipwall');
  t.notOk(crackSw.learned.passwordFound, 'sipwall: svcrack finds no password');
  t.ok(crackSw.passwordsTried <= threshold, `sipwall: at most ${threshold} password guesses reached Kamailio (${crackSw.passwordsTried})`);
});

t.test('signatures off (issue 6): the softphone-UA svwar learns nothing, svcrack is cut at the failure limit, relay probes never reach the PBX', { skip }, async (t) => {
  if (missing.length > 0) {
    t.fail(`CI must install the lab's packages (scripts/setup-debian.sh --test); missing: ${missing.join(', ')}`);
    return;
  }
  const results = runLab(t, ['--scenarios', '4-svwar-register-ua,4-svcrack-ua,6-relay-probe', '--setups', 'sipwall-behaviour', '--tool-cap', '20']);
  if (results === null) return;
  const get = (scenario: string): RunResult => {
    const r = results.find((x) => x.scenario === scenario && x.setup === 'sipwall-behaviour');
    if (r === undefined) throw new Error(`no result for ${scenario}`);
    return r;
  };
  const rules = parseYaml(readFileSync(join(process.cwd(), 'rules', 'default.yaml'), 'utf8')) as { answers: { authFailures: Array<{ limit: number }> } };
  const failures = rules.answers.authFailures[0]!.limit;
  for (const r of results) t.ok(r.ok, `${r.scenario} ran${r.error !== undefined ? `: ${r.error}` : ''}`);
  const war = get('4-svwar-register-ua');
  t.ok(war.attackerPackets > 0, `svwar attacked (${war.attackerPackets} packets)`);
  t.same(war.learned.extensions, [], 'the softphone-UA svwar learns no extension');
  const crack = get('4-svcrack-ua');
  t.ok(crack.passwordsTried <= failures, `svcrack: ${crack.passwordsTried} guesses reached Kamailio (failure limit ${failures})`);
  t.notOk(crack.learned.passwordFound, 'svcrack finds no password');
  t.equal(get('6-relay-probe').reached, 0, 'no INVITE to an international or premium number reached Kamailio');
  for (const r of results) {
    const legit = r.legit;
    t.ok(legit !== undefined && legit.sipp.successful > 0 && legit.baresip.attempted > 0, `${r.scenario}: phones registered and called meanwhile`);
    if (legit === undefined) continue;
    t.equal(legit.baresip.succeeded, legit.baresip.attempted, `${r.scenario}: every baresip registration succeeded (${legit.baresip.succeeded}/${legit.baresip.attempted})`);
    // A packet sipwall dropped shows in sipp as a timeout. A call sipp
    // aborted on an "unexpected message" got that message delivered, so it
    // does not count against the filter; the scenario accepts the one seen
    // in practice, a 180 reordered after the 200 (sipp-phone.ts).
    const lateRetransmits = (legit.sipp.errors.match(/Aborting call on unexpected message/g) ?? []).length;
    t.ok(legit.sipp.failed <= lateRetransmits, `${r.scenario}: no sipp register+call cycle failed for a lost packet (${legit.sipp.successful}/${legit.sipp.created} ok, ${lateRetransmits} aborted on a late retransmission)`);
    t.ok(legit.sipp.successful >= legit.sipp.created - 1, `${r.scenario}: at most one cycle lost that way`);
  }
});
