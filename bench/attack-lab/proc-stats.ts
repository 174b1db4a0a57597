// Per-process and per-namespace counters read straight from /proc: no
// process spawned per sample. /proc/PID/net/* shows the network namespace
// of PID, so a process sitting in the attacker namespace lets the lab read
// that namespace's IP counters from outside it.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads) in seconds; null if it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // After the comm: utime is field 14, stime 15 (proc(5)), here 11 and 12.
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Peak resident set (VmHWM) and current (VmRSS) in bytes; null if the process is gone. */
export function memory(pid: number): { hwm: number; rss: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return null;
  }
}

/** Packets transmitted on an interface of the namespace PID lives in (/proc/PID/net/dev; raw sockets included). */
export function txPackets(pid: number, iface: string): number | null {
  try {
    for (const line of readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n')) {
      const m = new RegExp(`^\\s*${iface}:\\s*(.*)$`).exec(line);
      if (m === null) continue;
      // 8 receive fields, then transmit bytes, transmit packets.
      return Number((m[1] as string).trim().split(/\s+/)[9]);
    }
    return null;
  } catch {
    return null;
  }
}

/** UDP datagrams the namespace of PID dropped because a socket's receive buffer was full (Udp: RcvbufErrors). */
export function udpRcvbufErrors(pid: number): number | null {
  try {
    const lines = readFileSync(`/proc/${pid}/net/snmp`, 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = (lines[0] ?? '').trim().split(/\s+/);
    const vals = (lines[1] ?? '').trim().split(/\s+/);
    const i = names.indexOf('RcvbufErrors');
    return i < 0 ? null : Number(vals[i]);
  } catch {
    return null;
  }
}
