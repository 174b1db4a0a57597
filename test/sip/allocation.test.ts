// parseSip must not allocate on its success path (nor on its failure
// paths: the reasons are constant strings). Run it a million times in a
// child node with --trace-gc and count the collections inside the measured
// loop: even 16 bytes per parse would be tens of megabytes, i.e. many
// scavenges; allocation-free code causes none. This counts collections, it
// does not time anything.

import t from 'tap';
import { gcDuringMeasure } from '../helpers/gc-count.js';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = (rel: string): string => pathToFileURL(fileURLToPath(new URL(rel, import.meta.url))).href;

const script = `
import { readFileSync, readdirSync } from 'node:fs';
import { parseSip } from '${here('../../src/sip/parse-sip.js')}';
import { SipMessage } from '${here('../../src/sip/sip-message.js')}';
import { indexOfIgnoreCase, lowerBytes } from '${here('../../src/sip/bytes.js')}';
const dir = new URL('${here('../../../test/fixtures/sip/')}');
const bufs = [];
for (const sub of ['corpus/', 'rfc4475/']) {
  for (const f of readdirSync(new URL(sub, dir))) if (f.endsWith('.sip')) bufs.push(readFileSync(new URL(sub + f, dir)));
}
bufs.push(readFileSync(new URL('invite-sdp.sip', dir)));
// One batch buffer holding them all, as the queue hands packets over.
const batch = Buffer.concat(bufs);
const spans = [];
let o = 0;
for (const b of bufs) { spans.push([o, o + b.length]); o += b.length; }
const msg = new SipMessage();
const needle = lowerBytes('friendly-scanner');
let acc = 0;
function loop(n) {
  for (let i = 0; i < n; i++) {
    const s = spans[i % spans.length];
    // acc stays a small integer: a growing double would be the loop's own allocation.
    acc = (acc + parseSip(batch, s[0], s[1], msg, (i & 1) === 0) + msg.end) | 0;
    if (msg.userAgentStart >= 0) acc = (acc + indexOfIgnoreCase(batch, msg.userAgentStart, msg.userAgentEnd, needle)) | 0;
  }
}
loop(300000);
process.stdout.write('MEASURE-START\\n');
loop(1000000);
process.stdout.write('MEASURE-END ' + acc + '\\n');
`;

t.test('parseSip allocates nothing per message', async (t) => {
  const r = gcDuringMeasure(script, 120000);
  t.equal(r.status, 0, r.stderr);
  t.ok(r.ran, 'the child ran the measured loop');
  t.ok(r.collections.length <= 1, `collections during 1M parses: ${r.collections.length}\n${r.collections.slice(0, 3).join('\n')}`);
});
