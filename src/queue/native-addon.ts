// Loading of the native NFQUEUE addon (native/, built by node-gyp into
// build/Release/sipwall_nfq.node). Loaded on first use, not at import, so
// code that only imports the queue types runs where the addon is not built.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { NativeError } from '../errors.js';
import { DESC_STRIDE } from './queue-batch.js';
import { STATS_COUNT } from './queue-stats.js';

/** native/nfq-layout.h NFQ_ABI_VERSION this binding was written for. */
export const NATIVE_ABI_VERSION = 2;

/** native/nfq-layout.h enum nfq_open_flag. */
export const OPEN_FAIL_OPEN = 1 << 0;
export const OPEN_GSO = 1 << 1;
export const OPEN_TCP_EMPTY_ACCEPT = 1 << 2;

/** The handle open() returns: an opaque wrapped object carrying the shared memory. */
export interface NativeHandle {
  readonly data: Buffer;
  readonly desc: Int32Array;
  readonly verdicts: Uint8Array;
  /** The kernel has the conntrack glue: VERDICT_TRUST also sets the connmark directly. */
  readonly conntrack: boolean;
  /** Receive buffer as the kernel reports it (twice the usable size, socket(7)). */
  readonly rcvBufBytes: number;
}

export interface NativeAddon {
  open(
    queueNum: number,
    maxLen: number,
    copyRange: number,
    flags: number,
    rcvBufBytes: number,
    batchSize: number,
    trustMark: number,
    watchMark: number,
    hotMaxEntries: number,
    onBatch: (count: number) => void,
  ): NativeHandle;
  close(h: NativeHandle): void;
  hotSet(h: NativeHandle, addr: Uint8Array, family: number, verdict: number, ttlMs: number): boolean;
  hotDelete(h: NativeHandle, addr: Uint8Array, family: number): boolean;
  hotClear(h: NativeHandle): void;
  stats(h: NativeHandle, out: Float64Array): void;
  readonly abiVersion: number;
  readonly statsCount: number;
  readonly descStride: number;
}

/** dist/src/queue/native-addon.js -> <package root>/build/Release/sipwall_nfq.node */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../../build/Release/sipwall_nfq.node', import.meta.url));

let loaded: NativeAddon | undefined;

export function loadNativeAddon(): NativeAddon {
  if (loaded !== undefined) return loaded;
  if (!existsSync(NATIVE_ADDON_PATH)) {
    throw new NativeError(
      `the NFQUEUE addon is not built (${NATIVE_ADDON_PATH} missing): run npm install, or npm run build:native`,
    );
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon;
  } catch (err) {
    throw new NativeError(
      `cannot load the NFQUEUE addon ${NATIVE_ADDON_PATH}: ${(err as Error).message}; rebuild it with npm run build:native`,
      { cause: err },
    );
  }
  if (
    addon.abiVersion !== NATIVE_ABI_VERSION ||
    addon.statsCount !== STATS_COUNT ||
    addon.descStride !== DESC_STRIDE
  ) {
    throw new NativeError(
      `the NFQUEUE addon ${NATIVE_ADDON_PATH} does not match this version of sipwall ` +
        `(abi ${addon.abiVersion}, ${addon.statsCount} counters, stride ${addon.descStride}): run npm run build:native`,
    );
  }
  loaded = addon;
  return addon;
}
