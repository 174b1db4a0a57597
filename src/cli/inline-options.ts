// Maps the `inline` section of the rules file to the kernel and queue
// options, so `sipwall start`, `rules --print` and `cleanup` agree on what
// is installed. Both option sets are validated again by their own modules.

import { validateKernelOptions, type KernelOptions } from '../kernel/index.js';
import type { QueueOptions } from '../queue/queue-options.js';
import type { Config } from '../rules/config-types.js';

export function kernelOptions(cfg: Config): KernelOptions {
  const i = cfg.inline;
  return validateKernelOptions(
    {
      ports: i.ports,
      tlsPorts: i.tlsPorts,
      queueNum: i.queueNum,
      failOpen: i.failOpen,
      trustMark: i.trustMark,
      trustSkipQueue: i.trustSkipQueue,
      // Read at start: a reload that turns it on or off changes the engine, not the kernel rules.
      watchAnswers: cfg.answers.watch,
      watchMark: i.watchMark,
      // The kernel prefilter never queues a 401/407 to a request without
      // credentials: a PBX flavour that says "unknown user" with one of them
      // needs every answer read.
      answerPrefilter: !cfg.answers.unknownUserStatus.some((s) => s === 401 || s === 407),
      banScope: i.banScope,
      ipv6: i.ipv6,
      setMaxElem: i.banSetMaxElem,
    },
    'inline',
  );
}

export function queueOptions(cfg: Config): Partial<QueueOptions> {
  const i = cfg.inline;
  return {
    queueNum: i.queueNum,
    maxLen: i.queueMaxLen,
    copyRange: i.copyRange,
    failOpen: i.failOpen,
    rcvBufBytes: i.socketBufferBytes,
    batchSize: i.batchSize,
    trustMark: i.trustMark,
    // 0: the engine asks for no watched flows when answers are not watched.
    watchMark: cfg.answers.watch ? i.watchMark : 0,
    hotMaxEntries: i.hotMaxEntries,
  };
}
