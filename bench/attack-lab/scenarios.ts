// The lab's scenarios (issue 5), each run once per setup. Numbers are the
// issue's; a scenario with several variants (svwar's two methods, the
// flood's one and many sources, scenario 4's three tools) has one id per
// variant.

import type { Tool } from './sipvicious.js';

export type ScenarioKind = 'tool' | 'flood' | 'relay';

export interface Scenario {
  id: string;
  number: 1 | 2 | 3 | 4 | 5 | 6;
  title: string;
  kind: ScenarioKind;
  tool?: Tool;
  method?: 'REGISTER' | 'INVITE';
  /** sipvicious patched to a softphone's User-Agent, its other traits removed. */
  patched?: boolean;
  spoofed?: boolean;
}

export const SCENARIOS: readonly Scenario[] = [
  { id: '1-svmap', number: 1, title: 'svmap scan', kind: 'tool', tool: 'svmap' },
  { id: '2-svwar-register', number: 2, title: 'svwar REGISTER enumeration', kind: 'tool', tool: 'svwar', method: 'REGISTER' },
  { id: '2-svwar-invite', number: 2, title: 'svwar INVITE enumeration', kind: 'tool', tool: 'svwar', method: 'INVITE' },
  { id: '3-svcrack', number: 3, title: 'svcrack brute force of 103', kind: 'tool', tool: 'svcrack' },
  { id: '4-svmap-ua', number: 4, title: 'svmap, softphone UA', kind: 'tool', tool: 'svmap', patched: true },
  { id: '4-svwar-register-ua', number: 4, title: 'svwar REGISTER, softphone UA', kind: 'tool', tool: 'svwar', method: 'REGISTER', patched: true },
  { id: '4-svwar-invite-ua', number: 4, title: 'svwar INVITE, softphone UA', kind: 'tool', tool: 'svwar', method: 'INVITE', patched: true },
  { id: '4-svcrack-ua', number: 4, title: 'svcrack, softphone UA', kind: 'tool', tool: 'svcrack', patched: true },
  { id: '5-flood-one', number: 5, title: 'REGISTER flood, one source, phones live', kind: 'flood', spoofed: false },
  { id: '5-flood-spoofed', number: 5, title: 'REGISTER flood, 65,000 spoofed sources, phones live', kind: 'flood', spoofed: true },
  { id: '6-relay-probe', number: 6, title: 'open-relay probe: INVITEs to international/premium numbers', kind: 'relay' },
];

/** sipwall-behaviour: sipwall with every User-Agent and fingerprint rule off (opt-in: --setups). */
export const SETUPS = ['none', 'classic', 'sipwall', 'sipwall-behaviour'] as const;
export type SetupId = (typeof SETUPS)[number];

export const SETUP_LABELS: Record<SetupId, string> = {
  none: 'no filter',
  classic: 'iptables + fail2ban',
  sipwall: 'sipwall',
  'sipwall-behaviour': 'sipwall, signatures off',
};

/** Scenario ids from a --scenarios list: numbers (1-6) select every variant, ids select one. */
export function selectScenarios(list: string): Scenario[] {
  const want = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const w of want) {
    if (!SCENARIOS.some((s) => s.id === w || String(s.number) === w)) throw new Error(`--scenarios: unknown scenario ${w} (numbers 1-6 or ids: ${SCENARIOS.map((s) => s.id).join(', ')})`);
  }
  return SCENARIOS.filter((s) => want.includes(s.id) || want.includes(String(s.number)));
}

export function selectSetups(list: string): SetupId[] {
  const want = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const w of want) if (!(SETUPS as readonly string[]).includes(w)) throw new Error(`--setups: unknown setup ${w} (${SETUPS.join(', ')})`);
  return SETUPS.filter((s) => want.includes(s));
}
