// What a run needs to know of the filter under test.

export interface Filter {
  name: 'none' | 'classic' | 'sipwall' | 'sipwall-behaviour';
  /** The filter's own process (fail2ban-server, sipwall), whose CPU and memory are reported; null: kernel only. */
  pid(): number | null;
  stop(): Promise<void>;
  /** Facts for the results file (bans, rules, counters). */
  extra(): Record<string, unknown> | Promise<Record<string, unknown>>;
}

export function noFilter(): Filter {
  return { name: 'none', pid: () => null, stop: async () => undefined, extra: () => ({}) };
}
