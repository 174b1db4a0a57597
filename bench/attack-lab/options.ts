// Command line of the lab. Unknown flags are errors.

import { join } from 'node:path';
import { ROOT } from './lab-constants.js';
import { SCENARIOS, SETUPS, selectScenarios, selectSetups, type Scenario, type SetupId } from './scenarios.js';

export interface Options {
  quick: boolean;
  scenarios: Scenario[];
  setups: SetupId[];
  out: string;
  chart: string | null;
  keep: boolean;
  toolCapSeconds: number;
  floodSeconds: number;
}

export const HELP = `Usage: npm run bench:attack -- [options]
       node dist/bench/attack-lab/main.js [options]      (tools already installed)

Builds an attacker, a phone and a PBX (Kamailio) network namespace, runs each
scenario against the PBX with no filter, with iptables + fail2ban, and with
sipwall, and reports what reached the PBX and what the attacker learned.
Needs root. Everything it starts it stops; nothing leaves the namespaces.

  --quick               scenarios 1-svmap, 2-svwar-register, 3-svcrack with
                        none and sipwall, short caps (about a minute)
  --scenarios LIST      numbers 1-6 (all variants) or ids, comma-separated:
                        ${SCENARIOS.map((s) => s.id).join(', ')}
  --setups LIST         ${SETUPS.join(', ')} (default: all but
                        sipwall-behaviour, which is sipwall with every
                        User-Agent and fingerprint rule off)
  --tool-cap S          longest run of one sipvicious tool (default 40; quick 20)
  --flood-seconds S     length of each flood (default 10; quick 3)
  --out FILE            results (default bench/results/attack.json)
  --chart FILE          PNG chart (default bench/results/attack.png)
  --no-chart            no chart
  --keep                keep each run's temp dir (configs, logs) and print where
  -h, --help            this text`;

export function parseOptions(argv: string[]): Options | 'help' {
  const quick = argv.includes('--quick');
  const o: Options = {
    quick,
    scenarios: quick ? selectScenarios('1-svmap,2-svwar-register,3-svcrack') : [...SCENARIOS],
    // sipwall-behaviour is opt-in: it doubles sipwall's share of the run (see --setups).
    setups: quick ? ['none', 'sipwall'] : SETUPS.filter((x) => x !== 'sipwall-behaviour'),
    out: join(ROOT, 'bench', 'results', 'attack.json'),
    chart: join(ROOT, 'bench', 'results', 'attack.png'),
    keep: false,
    toolCapSeconds: quick ? 20 : 40,
    floodSeconds: quick ? 3 : 10,
  };
  const num = (v: string | undefined, name: string, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`${name}: expected a number in ${min}..${max}, got ${String(v)}`);
    return n;
  };
  const value = (i: number, name: string): string => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name}: missing value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    switch (a) {
      case '--quick':
        break;
      case '-h':
      case '--help':
        return 'help';
      case '--scenarios':
        o.scenarios = selectScenarios(value(++i, a));
        break;
      case '--setups':
        o.setups = selectSetups(value(++i, a));
        break;
      case '--tool-cap':
        o.toolCapSeconds = num(argv[++i], a, 5, 600);
        break;
      case '--flood-seconds':
        o.floodSeconds = num(argv[++i], a, 1, 60);
        break;
      case '--out':
        o.out = value(++i, a);
        break;
      case '--chart':
        o.chart = value(++i, a);
        break;
      case '--no-chart':
        o.chart = null;
        break;
      case '--keep':
        o.keep = true;
        break;
      default:
        throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  if (o.scenarios.length === 0) throw new Error('--scenarios: nothing selected');
  if (o.setups.length === 0) throw new Error('--setups: nothing selected');
  return o;
}
