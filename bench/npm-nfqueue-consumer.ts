// Setup (c) of the inline benchmark (bench/inline-bench.ts): the npm
// `nfqueue` package, a NAN addon that calls JavaScript once per packet, with
// the smallest verdict there is (accept everything). It is what a Node
// developer would reach for first; sipwall's batching addon is measured
// against it.
//
//   node dist/bench/npm-nfqueue-consumer.js QUEUE_NUM [RCVBUF_BYTES]
//
// Prints "ready" once bound; answers "report" on stdin with
// {"packets":N}; prints the same and exits on SIGTERM/SIGINT or stdin EOF.

import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

interface NfqPacket {
  setVerdict(verdict: number, mark?: number, buffer?: Buffer | null): void;
}
interface NfqModule {
  NF_ACCEPT: number;
  createQueueHandler(num: number, rcvbuf: number, cb: (p: NfqPacket) => void): unknown;
}

const queueNum = Number(process.argv[2]);
const rcvbuf = Number(process.argv[3] ?? 65535);
if (!Number.isInteger(queueNum) || queueNum < 0 || queueNum > 65535 || !Number.isInteger(rcvbuf) || rcvbuf < 4096) {
  process.stderr.write('usage: npm-nfqueue-consumer QUEUE_NUM [RCVBUF_BYTES>=4096]\n');
  process.exit(2);
}

// CommonJS package from an ES module.
const nfq = createRequire(import.meta.url)('nfqueue') as NfqModule;
let packets = 0;
const accept = nfq.NF_ACCEPT;
nfq.createQueueHandler(queueNum, rcvbuf, (p) => {
  packets++;
  p.setVerdict(accept);
});

const report = (): void => {
  process.stdout.write(`${JSON.stringify({ packets })}\n`);
};
const quit = (): void => {
  report();
  process.exit(0);
};
process.once('SIGTERM', quit);
process.once('SIGINT', quit);
const rl = createInterface({ input: process.stdin });
rl.on('line', (l) => {
  if (l.trim() === 'report') report();
});
rl.on('close', quit);
process.stdout.write('ready\n');
