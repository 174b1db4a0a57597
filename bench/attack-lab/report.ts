// The table printed at the end of a run, one line per scenario and setup.

import type { LegitResult, RunResult } from './run-scenario.js';
import { SCENARIOS, SETUP_LABELS } from './scenarios.js';

function pct(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

function fmtNum(n: number): string {
  return n.toLocaleString('en-US');
}

export function learnedText(r: RunResult): string {
  const sc = SCENARIOS.find((s) => s.id === r.scenario);
  switch (sc?.tool) {
    case 'svmap':
      return r.learned.devices > 0 ? 'PBX found' : 'nothing';
    case 'svwar':
      return r.learned.realExtensions > 0 ? `${r.learned.realExtensions} ext (${r.learned.extensions.join(' ')})` : r.learned.extensions.length > 0 ? `0 ext (${r.learned.extensions.length} false)` : 'no extension';
    case 'svcrack':
      return r.learned.passwordFound ? `password of ${'103'}` : 'no password';
  }
  if (sc?.kind === 'relay') return `${r.learned.relayAnswered2xx ?? 0} calls answered`;
  // A flood learns nothing; show how hard it pushed instead.
  if (r.flood !== undefined) return `(flood ${Math.round(r.flood.pps / 1000)}k pkt/s)`;
  return '-';
}

function legitText(l: LegitResult | undefined): [string, string, string] {
  if (l === undefined) return ['-', '-', '-'];
  const regOk = l.baresip.succeeded + l.sipp.registerMs.length;
  const regAll = l.baresip.attempted + l.sipp.created;
  const lat = [...l.baresip.latencyMs, ...l.sipp.registerMs];
  const calls = `${l.sipp.successful}/${l.sipp.created}`;
  const p50 = pct(lat, 50);
  const max = lat.length > 0 ? Math.max(...lat) : null;
  const call50 = pct(l.sipp.callSetupMs, 50);
  return [`${regOk}/${regAll}`, calls, p50 === null ? 'n/a' : `${Math.round(p50)}/${Math.round(max ?? 0)} (call ${call50 === null ? 'n/a' : Math.round(call50)})`];
}

export function tableRows(results: RunResult[]): string[][] {
  const header = ['scenario', 'setup', 'reached PBX', 'learned', 'pw tries', 'cut off after', 'legit reg ok', 'legit calls ok', 'reg ms p50/max (call p50)', 'filter CPU s', 'filter max RSS'];
  const rows = [header];
  for (const r of results) {
    if (!r.ok) {
      rows.push([r.scenario, SETUP_LABELS[r.setup], `FAILED: ${(r.error ?? '').slice(0, 90)}`]);
      continue;
    }
    const [reg, calls, lat] = legitText(r.legit);
    rows.push([
      r.scenario,
      SETUP_LABELS[r.setup],
      fmtNum(r.reached),
      learnedText(r),
      String(r.passwordsTried),
      r.cutOffSeconds === null ? 'not cut off' : `${r.cutOffSeconds.toFixed(1)} s`,
      reg,
      calls,
      lat,
      r.filterCpuSeconds === null ? '-' : r.filterCpuSeconds.toFixed(2),
      r.filterMaxRssBytes === null ? '-' : `${(r.filterMaxRssBytes / 1048576).toFixed(0)} MB`,
    ]);
  }
  return rows;
}

/** Plain text, columns padded. */
export function formatTable(rows: string[][]): string {
  const full = rows.filter((r) => r.length === (rows[0] as string[]).length);
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...full.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => (r.length === widths.length ? r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd() : r.join('  '))).join('\n');
}

/** The same rows as a Markdown table (for the README). */
export function markdownTable(rows: string[][]): string {
  const n = (rows[0] as string[]).length;
  const lines = rows.map((r) => `| ${[...r, ...Array<string>(Math.max(0, n - r.length)).fill('')].slice(0, n).join(' | ')} |`);
  lines.splice(1, 0, `|${'---|'.repeat(n)}`);
  return lines.join('\n');
}
