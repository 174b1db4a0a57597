// loadConfig without blocking the event loop: for reloads while inline,
// where the verdict loop must keep answering the queue. The rules are loaded
// and validated in a worker; only compiling and swapping them (fast, O(rules))
// happens on the main thread, between two batches.

import { Worker } from 'node:worker_threads';
import { SipwallError } from '../errors.js';
import type { LoadedConfig } from './config-types.js';
import type { LoadOptions } from './load-config.js';

type Reply = { ok: true; loaded: LoadedConfig } | { ok: false; message: string; code: string };

export function loadConfigAsync(opts: LoadOptions): Promise<LoadedConfig> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./load-config-worker.js', import.meta.url), { workerData: opts });
    let settled = false;
    w.once('message', (m: Reply) => {
      settled = true;
      if (m.ok) resolve(m.loaded);
      else reject(new SipwallError(m.message, m.code));
    });
    w.once('error', (e) => {
      if (!settled) reject(new SipwallError(`loading the rules failed: ${e.message}`, 'SIPWALL_ERR_CONFIG'));
      settled = true;
    });
    w.once('exit', (code) => {
      if (!settled) reject(new SipwallError(`loading the rules failed: worker exited with ${code}`, 'SIPWALL_ERR_CONFIG'));
    });
  });
}
