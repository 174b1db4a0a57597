// The metrics of `sipwall start`, in one call: the registry over the running
// engine, verdict loop, native queue and kernel queue, served on
// metrics.listen. Called before the queue is bound and the kernel rules are
// installed, so a port that is taken stops the start with nothing to undo.

import type { Engine } from '../engine/engine.js';
import type { NfQueue } from '../queue/nfqueue.js';
import type { VerdictLoop } from '../queue/verdict-loop.js';
import type { MetricsConfig } from '../rules/config-types.js';
import { SipwallError } from '../errors.js';
import { readKernelQueueStats } from '../queue/kernel-queue-stats.js';
import { parseListenAddress } from './listen-address.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { createSipwallMetrics } from './sipwall-metrics.js';

export interface InlineMetricsParts {
  engine: Engine;
  loop: VerdictLoop;
  /** The queue once it is bound (null before). */
  queue: () => NfQueue | null;
  queueNum: number;
  /** Times the rules watchdog put the kernel rules back. */
  rulesRestored: () => number;
}

/** Starts the endpoint; null when metrics.enabled is false. Throws SIPWALL_ERR_CONFIG when it cannot listen. */
export async function startInlineMetrics(cfg: MetricsConfig, p: InlineMetricsParts): Promise<MetricsServer | null> {
  if (!cfg.enabled) return null;
  const listen = parseListenAddress(cfg.listen);
  if (listen === null) throw new SipwallError(`metrics.listen: not an address:port: ${JSON.stringify(cfg.listen)}`, 'SIPWALL_ERR_CONFIG');
  const metrics = createSipwallMetrics({
    counters: p.loop.counters,
    engine: p.engine,
    readQueueStats: (out) => {
      const q = p.queue();
      if (q === null) return false;
      q.readStats(out); // still readable once closed
      return true;
    },
    kernelQueue: () => readKernelQueueStats(p.queueNum),
    rulesRestored: p.rulesRestored,
  });
  const server = await startMetricsServer(listen, metrics.registry);
  p.loop.batchObserver = metrics.observeBatch;
  return server;
}
