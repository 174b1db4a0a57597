// V8 garbage-collector settings for `sipwall start`, where every pause of the
// JS thread is a pause of the SIP traffic (the native fast path runs on the
// same thread, between JS callbacks).
//
// V8's memory reducer arms itself after every full collection and, some
// seconds later (8 s, then 8 s again while the allocation rate is high),
// starts a memory-reducing full collection if JS has gone quiet: exactly
// what a filter whose traffic is answered in C looks like. On this
// project's heap (about 36 MB, mostly the LRUs' preallocated key and value
// arrays) such a collection paused the thread 9-15 ms. A filter's heap is
// sized by its caps, not by its load, so there is little to give back.
//
// The reducer exists only if V8 starts with it: Heap::SetUp creates it when
// --memory-reducer is on, and nothing removes it later. Setting
// --no-memory-reducer or a long --gc-memory-reducer-start-delay-ms at run
// time (v8.setFlagsFromString) was measured not to help: an idle
// `sipwall start` still ran two reducing collections 16 s in (13 and 9 ms),
// and none in 25 s when node was started with the flag. Node refuses the
// flag in NODE_OPTIONS, so it goes on node's command line: the `sipwall`
// command's shebang carries it, the documented commands and the Dockerfile
// pass it, and `start` warns when it is missing.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** The node option that keeps V8's memory reducer from being created. */
export const NO_MEMORY_REDUCER = '--no-memory-reducer';

/** Whether this process was started with the memory reducer off. */
export function memoryReducerOff(execArgv: readonly string[] = process.execArgv): boolean {
  // Later options win in V8's flag parsing: the last mention decides.
  for (let i = execArgv.length - 1; i >= 0; i--) {
    const a = execArgv[i]!;
    if (a === NO_MEMORY_REDUCER || a === '--no_memory_reducer') return true;
    if (a === '--memory-reducer' || a === '--memory_reducer') return false;
  }
  return false;
}

/** The warning `start` logs when the reducer is on, or null. */
export function gcWarning(execArgv: readonly string[] = process.execArgv): string | null {
  if (memoryReducerOff(execArgv)) return null;
  return (
    `node was started without ${NO_MEMORY_REDUCER}: V8's memory reducer may pause packet handling for 10-20 ms ` +
    `when traffic goes quiet; run the sipwall command, or node ${NO_MEMORY_REDUCER} dist/src/cli/main.js`
  );
}

/**
 * One full collection now, before any packet waits on this thread. V8 sets
 * the old generation's next limit from the live size its last full
 * collection found; at startup that was measured before the engine's tables
 * existed (about 25 MB), and the tables bring the heap to about 36 MB, just
 * under the limit. The next few hundred kilobytes promoted then started the
 * one collection a run otherwise needed, whenever it happened to come: in
 * bench setup (e), where JS allocates little, in the middle of the paced
 * run, stalling the queue 5-15 ms. Collected here, the limit is set from
 * the real live size and that collection happens while nothing waits.
 * The growing factor is fixed at 2 (--heap-growing-percent, read at each
 * full collection): after a slow startup collection V8 chose about 1.06,
 * which put the next one only 2 MB of promotions away. With it, three
 * paced (e) runs had no full collection after startup (p99 30-51 us, from
 * 0.9-1.8 ms); the price is a heap that may reach twice its live size
 * (about 70 MB) before it is collected.
 *
 * Without --expose-gc, `gc` is only given to contexts created after the
 * flag is set, hence the new context.
 */
export function collectBeforeInline(): void {
  setFlagsFromString('--heap-growing-percent=100');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  if (typeof gc === 'function') (gc as () => void)();
}
