// The per-packet path (decodeIp, CidrSet.has) must not allocate: run it a few
// million times in a child node with --trace-gc and count the collections
// that happen inside the measured loop. Even 16 bytes per packet would be
// tens of megabytes here, i.e. many scavenges; allocation-free code causes none.
// This counts collections, it does not time anything.

import t from 'tap';
import { gcDuringMeasure } from '../helpers/gc-count.js';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = (rel: string) => pathToFileURL(fileURLToPath(new URL(rel, import.meta.url))).href;

const script = `
import { readFileSync } from 'node:fs';
import { decodeIp } from '${here('../../src/packet/decode-ip.js')}';
import { readCapture } from '${here('../../src/packet/capture-reader.js')}';
import { CidrSet, parseCidr } from '${here('../../src/packet/address.js')}';
import { PacketView } from '${here('../../src/packet/packet-view.js')}';
import { ipv6, tcp, udp } from '${here('./packet-builders.js')}';
const corpus = [...readCapture('c', readFileSync(new URL('${here('../../../test/fixtures/corpus/svcrack.pcap')}')))];
const pkts = corpus.map((f) => [f.data, f.ipOff, f.ipLen]);
const v6 = ipv6({ exts: [{ type: 0 }, { type: 44, more: true }, { type: 60, len: 16 }], payload: udp() });
const v6tcp = ipv6({ next: 6, payload: tcp({ seq: 0xfffffff0, options: [2, 4, 5, 180] }) });
pkts.push([v6, 0, v6.length], [v6tcp, 0, v6tcp.length], [v6, 0, 45]);
const set = new CidrSet();
for (const c of ['10.0.0.0/8', '10.99.0.1', '192.168.0.0/16', '172.16.0.0/12', '2001:db8::/32', '2001:db8::5/128', 'fe80::/10']) set.add(parseCidr(c));
const view = new PacketView();
let acc = 0;
function loop(n) {
  for (let i = 0; i < n; i++) {
    const p = pkts[i % pkts.length];
    acc += decodeIp(p[0], p[1], p[2], view);
    if (view.family !== 0 && set.has(view.buf, view.srcOff, view.family)) acc++;
  }
}
loop(1000000);
process.stdout.write('MEASURE-START\\n');
loop(3000000);
process.stdout.write('MEASURE-END ' + acc + '\\n');
`;

t.test('decodeIp and CidrSet.has allocate nothing per packet', async (t) => {
  const r = gcDuringMeasure(script, 60000);
  t.equal(r.status, 0, r.stderr);
  t.ok(r.ran, 'the child ran the measured loop');
  t.ok(r.collections.length <= 1, `collections during 3M packets: ${r.collections.length}\n${r.collections.slice(0, 3).join('\n')}`);
});
