// V8 garbage-collector settings for `sipwall start`, where every pause of the
// JS thread is a pause of the SIP traffic (the native fast path runs on the
// same thread, between JS callbacks).
//
// V8's memory reducer starts a full collection some seconds after the
// allocation rate drops (--gc-memory-reducer-start-delay-ms, 8 s), to give
// memory back. It finalizes after a short incremental phase and does the
// rest of the marking in one atomic pause: on this project's heap (about
// 47 MB, mostly the LRUs' preallocated key and value arrays) that pause
// measured 12-15 ms, twice in a row, on the test machine: the p99 stalls of
// bench setup (e). A filter's heap is sized by its caps, not by its load, so
// there is little to give back; the collections V8 runs as the heap grows
// (incremental, concurrent) stay on.
//
// --no-memory-reducer is not allowed in NODE_OPTIONS and sipwall is started
// as `node dist/src/cli/main.js`, so it is set here, before the engine's
// tables are allocated. Set at run time, that flag alone did not stop the
// reducer (measured: a 12 ms reducing collection 24 s in); its start delay,
// read each time a cycle is armed, did (none in 40 s, longest loop delay
// 4.8 ms, from young-generation collections). Both are set.

import { setFlagsFromString } from 'node:v8';

/** A day: longer than any run between two allocation bursts that would re-arm it. */
const REDUCER_DELAY_MS = 86_400_000;

export function tuneGcForLatency(): void {
  setFlagsFromString('--no-memory-reducer');
  setFlagsFromString(`--gc-memory-reducer-start-delay-ms=${REDUCER_DELAY_MS}`);
}
