// The attack lab (issue 5): scans, enumeration, brute force, floods and
// relay probes against a Kamailio PBX in network namespaces, each with no
// filter, with iptables + fail2ban, and with sipwall, measured in the same
// run. A benchmark, not a test: it reports, it asserts nothing
// (test/bench/attack-lab.test.ts asserts on its --quick results).
//
// Run: npm run bench:attack [-- --quick] [-- --help]

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cleanupSync, installCleanupHandlers, reapStale, trackTmpDir } from '../lib/cleanup.js';
import { stockThresholds } from './classic-filter.js';
import { writeChart } from './chart.js';
import { EXTENSIONS, NS_PREFIX, SECRET_HOST, SOFTPHONE_UA, SPOOF_SOURCES, WEAK_EXTENSION } from './lab-constants.js';
import { HELP, parseOptions } from './options.js';
import { formatTable, markdownTable, tableRows } from './report.js';
import { runScenario, type RunResult, type Timing } from './run-scenario.js';
import { SETUP_LABELS } from './scenarios.js';
import { missingBuilds, missingTools } from './tools.js';

function version(argv: string[]): string {
  try {
    return execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).split('\n')[0]?.trim() ?? '';
  } catch {
    return 'unknown';
  }
}

function debVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts === 'help') {
    console.log(HELP);
    return 0;
  }
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, iptables, NFQUEUE, raw sockets)');
  const missing = missingTools();
  if (missing.length > 0) throw new Error(`missing: ${missing.join(', ')}. Install them with: bash bench/attack-lab/setup.sh (npm run bench:attack does)`);
  const notBuilt = missingBuilds(opts.scenarios.some((s) => s.kind === 'flood'));
  if (notBuilt.length > 0) throw new Error(`not built: ${notBuilt.join(', ')}`);
  installCleanupHandlers('attack-lab');
  reapStale(NS_PREFIX);

  const labDir = mkdtempSync(join(tmpdir(), `${NS_PREFIX}-${process.pid}-`));
  if (!opts.keep) trackTmpDir(labDir);
  const timing: Timing = { toolCapSeconds: opts.toolCapSeconds, floodSeconds: opts.floodSeconds, extensions: '100-999', passwords: '1000-9999' };
  const started = Date.now();
  const runs = opts.scenarios.length * opts.setups.length;
  console.log(`attack lab: ${opts.scenarios.length} scenario(s) x ${opts.setups.length} setup(s) = ${runs} runs; tool cap ${timing.toolCapSeconds} s, floods ${timing.floodSeconds} s`);
  console.log(`node ${process.version}, kernel ${version(['uname', '-r'])}, ${cpus().length} CPUs; kamailio ${debVersion('kamailio')}, sipvicious ${debVersion('sipvicious')}, fail2ban ${debVersion('fail2ban')}, baresip ${debVersion('baresip')}, sipp ${debVersion('sip-tester')}`);

  const results: RunResult[] = [];
  for (const sc of opts.scenarios) {
    for (const setup of opts.setups) {
      const r = await runScenario(sc, setup, labDir, timing, opts.keep);
      results.push(r);
      const what = r.ok
        ? `reached ${r.reached}, tries ${r.passwordsTried}, ${r.cutOffSeconds === null ? 'not cut off' : `cut off after ${r.cutOffSeconds.toFixed(1)} s`}${r.legit !== undefined ? `, legit reg ${r.legit.baresip.succeeded + r.legit.sipp.registerMs.length}/${r.legit.baresip.attempted + r.legit.sipp.created} calls ${r.legit.sipp.successful}/${r.legit.sipp.created}` : ''}`
        : `FAILED: ${r.error ?? ''}`;
      console.log(`  ${sc.id.padEnd(20)} ${SETUP_LABELS[setup].padEnd(20)} ${what}  [${r.seconds.toFixed(1)} s]`);
    }
  }

  const rows = tableRows(results);
  console.log('');
  console.log(formatTable(rows));
  console.log('\nreached PBX: requests from the attacker that Kamailio received; pw tries: those carrying credentials;');
  console.log('cut off after: seconds from the first attack packet to the last request that reached Kamailio, when the attacker kept sending after it;');
  console.log('legit: baresip + sipp registrations, sipp calls (register, INVITE, answered by baresip, BYE); filter: fail2ban-server or sipwall process.');

  const out = {
    date: new Date().toISOString(),
    command: `npm run bench:attack${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    durationSeconds: (Date.now() - started) / 1000,
    machine: { node: process.version, kernel: version(['uname', '-r']), cpus: cpus().length, cpuModel: cpus()[0]?.model },
    packages: Object.fromEntries(['kamailio', 'sipvicious', 'fail2ban', 'baresip', 'sip-tester', 'iptables'].map((p) => [p, debVersion(p)])),
    lab: {
      secretHost: SECRET_HOST,
      extensions: Object.keys(EXTENSIONS),
      weakExtension: WEAK_EXTENSION,
      weakPassword: EXTENSIONS[WEAK_EXTENSION],
      svwarRange: timing.extensions,
      svcrackRange: timing.passwords,
      patchedUserAgent: SOFTPHONE_UA,
      spoofedSources: SPOOF_SOURCES,
      fail2banThresholds: stockThresholds(),
      toolCapSeconds: timing.toolCapSeconds,
      floodSeconds: timing.floodSeconds,
    },
    quick: opts.quick,
    table: rows,
    markdown: markdownTable(rows),
    results,
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(`${opts.out}.tmp`, `${JSON.stringify(out, null, 2)}\n`);
  renameSync(`${opts.out}.tmp`, opts.out);
  console.log(`\nwrote ${opts.out}`);
  if (opts.chart !== null) {
    try {
      writeChart(results, opts.chart, `sipwall attack lab, ${out.date.slice(0, 10)}: attacker requests reaching Kamailio per second`);
      console.log(`wrote ${opts.chart}`);
    } catch (e) {
      console.error(`chart failed: ${(e as Error).message}`);
    }
  }
  if (opts.keep) console.log(`kept the runs' files under ${labDir}`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return results.every((r) => r.ok) ? 0 : 1;
}

main().then(
  (code) => {
    cleanupSync();
    process.exit(code);
  },
  (e: unknown) => {
    console.error('attack-lab:', e instanceof Error ? e.message : e);
    cleanupSync();
    process.exit(e instanceof Error && /^(unknown option|--\S+:)/.test(e.message) ? 64 : 1);
  },
);
