// The verdict loop over batches shaped as the native addon hands them: a ban
// longer than the hot table's TTL ceiling, and a side effect that fails, must
// not leave the rest of the batch without a verdict (which the native tier
// would accept unjudged, whatever failOpen says).

import t from 'tap';
import { Logger } from '../../src/cli/logger.js';
import { VERDICT_DROP } from '../../src/engine/verdicts.js';
import { checkHotSet, HOT_TTL_MAX_MS } from '../../src/queue/nfqueue.js';
import { DESC_CAPLEN, DESC_ID, DESC_OFFSET, DESC_ORIGLEN, DESC_STRIDE, VERDICT_UNSET, type QueueBatch } from '../../src/queue/queue-batch.js';
import { VerdictLoop, type HotTable } from '../../src/queue/verdict-loop.js';
import { sipUdp } from '../metrics/batch-feed.js';
import { configWith, engineFor, samples } from '../helpers/engine-fixtures.js';

const scanner = samples('friendly-scanner').find((s) => s.name.includes('register'))!.data;
const DAY = 86_400;

function run(loop: VerdictLoop, packets: Buffer[]): number[] {
  const data = Buffer.concat(packets);
  const desc = new Int32Array(packets.length * DESC_STRIDE);
  let off = 0;
  packets.forEach((p, i) => {
    desc[i * DESC_STRIDE + DESC_ID] = i + 1;
    desc[i * DESC_STRIDE + DESC_OFFSET] = off;
    desc[i * DESC_STRIDE + DESC_CAPLEN] = desc[i * DESC_STRIDE + DESC_ORIGLEN] = p.length;
    off += p.length;
  });
  const b: QueueBatch = { count: packets.length, data, desc, verdicts: new Uint8Array(packets.length).fill(VERDICT_UNSET) };
  loop.onBatch(b);
  return [...b.verdicts];
}

const three = [sipUdp('192.0.2.1', scanner), sipUdp('192.0.2.2', scanner), sipUdp('192.0.2.3', scanner)];

t.test('a 60-day ban: every scanner in the batch dropped, the hot table told for as long as it can hold', async (t) => {
  const engine = engineFor(configWith({ bans: { ...configWith().bans, baseSeconds: 60 * DAY, maxSeconds: 365 * DAY } }));
  const ttls: number[] = [];
  // The same checks NfQueue.hotSet() makes before calling into C.
  const hot: HotTable = { hotSet: (a, f, v, ttl) => (checkHotSet(a, f, v, ttl), ttls.push(ttl), true) };
  const lines: string[] = [];
  const bans: Array<[string, number]> = [];
  const loop = new VerdictLoop(engine, hot, { add: (c, s) => (bans.push([c, s]), true) }, new Logger({ write: (l) => void lines.push(l) }));
  t.same(run(loop, three), [VERDICT_DROP, VERDICT_DROP, VERDICT_DROP]);
  t.same(ttls, [HOT_TTL_MAX_MS, HOT_TTL_MAX_MS, HOT_TTL_MAX_MS], 'capped at 49.7 days in the hot table');
  t.same(bans.map((b) => b[1]), [60 * DAY, 60 * DAY, 60 * DAY], 'the kernel set gets the whole ban');
  t.notOk(lines.some((l) => l.includes('verdict-error')), 'no error');
});

t.test('one packet whose side effect fails: that packet unjudged, the rest of the batch judged, one log line', async (t) => {
  const engine = engineFor(configWith());
  let calls = 0;
  const hot: HotTable = {
    hotSet: () => {
      if (calls++ === 0) throw new Error('hot table refused');
      return true;
    },
  };
  const lines: string[] = [];
  const loop = new VerdictLoop(engine, hot, { add: () => true }, new Logger({ write: (l) => void lines.push(l) }));
  const v = run(loop, three);
  t.same(v, [VERDICT_DROP, VERDICT_DROP, VERDICT_DROP], 'the first packet got its verdict before the side effect; the others theirs');
  const errs = lines.filter((l) => l.includes('verdict-error'));
  t.equal(errs.length, 1);
  t.match(JSON.parse(errs[0]!), { packet: 0, failed: 1, batch: 3, message: 'hot table refused' });
  t.equal(loop.counters.errors, 1, 'counted once for the batch');
});

t.test('no hot-table trust for a /64 that holds a blocked IPv6 host', async (t) => {
  // The hot table keys IPv6 by /64; the engine checks `blocked` per address, before trust.
  const secretReg = samples('_legit').find((s) => s.name.includes('secret'))!.data;
  const engine = engineFor(configWith({ secretHosts: ['secret-7f3a.pbx.example.com'], blocked: ['2001:db8:0:1::66/128'] }));
  const sets: Array<{ verdict: number; first: string }> = [];
  const hot: HotTable = { hotSet: (a, f, v, ttl) => (checkHotSet(a, f, v, ttl), sets.push({ verdict: v, first: Buffer.from(a.subarray(0, 8)).toString('hex') }), true) };
  const loop = new VerdictLoop(engine, hot, { add: () => true }, new Logger({ write: () => undefined }));
  const v = run(loop, [sipUdp('2001:db8:0:1::10', secretReg), sipUdp('2001:db8:0:2::10', secretReg), sipUdp('2001:db8:0:1::66', secretReg)]);
  t.same(v, [2, 2, VERDICT_DROP], 'both neighbours trusted by the engine; the blocked host dropped');
  t.same(sets, [{ verdict: 2, first: '20010db800000002' }], 'only the /64 without a blocked host goes to the hot table');
});
