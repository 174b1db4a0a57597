// Runs loadConfig in a worker thread and posts the result back: reading,
// YAML parsing and validation (recheck can take seconds on an admin regex)
// happen off the thread that answers the queue. See load-config-async.ts.

import { parentPort, workerData } from 'node:worker_threads';
import { SipwallError } from '../errors.js';
import { loadConfig, type LoadOptions } from './load-config.js';

try {
  parentPort?.postMessage({ ok: true, loaded: loadConfig(workerData as LoadOptions) });
} catch (e) {
  const err = e as Error;
  parentPort?.postMessage({ ok: false, message: err.message, code: e instanceof SipwallError ? e.code : 'SIPWALL_ERR_CONFIG' });
}
