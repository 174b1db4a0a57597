// The PNG: requests from the attacker reaching Kamailio per second, one
// small plot per scenario, one line per setup (gnuplot, Debian's
// gnuplot-nox, pngcairo terminal). Logarithmic y: a flood and a scan differ
// by five orders of magnitude.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from './run-scenario.js';
import { SCENARIOS, SETUPS, SETUP_LABELS } from './scenarios.js';

const STYLE: Record<string, string> = {
  none: 'lw 2 dt 1 lc rgb "#d62728"',
  classic: 'lw 2 dt 2 lc rgb "#ff7f0e"',
  sipwall: 'lw 3 dt 1 lc rgb "#2ca02c"',
};
const ZERO = 0.6;
const Y_MAX = 300_000;

export function writeChart(results: RunResult[], png: string, title: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'sipwall-attack-chart-'));
  try {
    const ids = SCENARIOS.map((s) => s.id).filter((id) => results.some((r) => r.scenario === id && r.ok));
    if (ids.length === 0) return;
    const cols = Math.min(3, ids.length);
    const rowsN = Math.ceil(ids.length / cols);
    const lines = [
      `set terminal pngcairo size ${cols * 520},${rowsN * 330 + 60} font "DejaVu Sans,9"`,
      `set output "${png}"`,
      `set multiplot layout ${rowsN},${cols} title "${title.replace(/"/g, '')}"`,
      'set logscale y',
      // One scale for every panel, so that a scan and a flood compare; a
      // second without any request is drawn at the "0" tic (log has no 0).
      `set yrange [0.5:${Y_MAX}]`,
      `set ytics ("0" ${ZERO}, "1" 1, "10" 10, "100" 100, "1k" 1000, "10k" 10000, "100k" 100000)`,
      'set xlabel "seconds since the attack started"',
      'set xtics 1',
      'set ylabel "requests/s reaching Kamailio"',
      'set key top right',
      'set grid',
    ];
    for (const id of ids) {
      const plots: string[] = [];
      const len = Math.max(6, ...results.filter((x) => x.scenario === id && x.ok).map((x) => x.perSecond.length + 1));
      lines.push(`set xrange [0:${len}]`);
      for (const setup of SETUPS) {
        const r = results.find((x) => x.scenario === id && x.setup === setup && x.ok);
        if (r === undefined) continue;
        const f = join(dir, `${id}-${setup}.dat`);
        const series = [...r.perSecond, 0];
        while (series.length < len) series.push(0);
        writeFileSync(f, `${series.map((v, i) => `${i} ${v === 0 ? ZERO : v}`).join('\n')}\n`);
        plots.push(`"${f}" using 1:2 with steps ${STYLE[setup]} title "${SETUP_LABELS[setup]} (${r.reached.toLocaleString('en-US')} in all)"`);
      }
      const sc = SCENARIOS.find((s) => s.id === id);
      lines.push(`set title "${id}: ${(sc?.title ?? '').replace(/"/g, '')}"`);
      lines.push(`plot ${plots.join(', ')}`);
    }
    lines.push('unset multiplot', '');
    const script = join(dir, 'chart.gp');
    writeFileSync(script, lines.join('\n'));
    execFileSync('gnuplot', [script], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
