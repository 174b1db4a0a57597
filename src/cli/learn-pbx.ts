// Which address in a capture is the PBX, for `sipwall check` when --pbx is
// not given: packets the PBX sends from a SIP port are its answers and are
// watched (Engine.observe), everything else is judged (Engine.decide).
//
// A capture taken on the PBX host, the kind `check` is for, has the PBX on
// one side of every packet, so the address in most of the SIP packets of a
// family is it. Learning it from "where the first request went" instead was
// wrong whenever the capture began with the PBX's own request (a qualify
// OPTIONS to a phone): the phone was taken for the PBX, and later requests
// from port 5060 were waved through as answers.

import { formatIp } from '../packet/address.js';
import { readCapture, startsLikeCapture } from '../packet/capture-reader.js';
import { decodeIp } from '../packet/decode-ip.js';
import { DECODE_OK, PacketView } from '../packet/packet-view.js';
import { KIND_REQUEST, PARSE_INVALID } from '../sip/constants.js';
import { parseSip } from '../sip/parse-sip.js';
import { SipMessage } from '../sip/sip-message.js';

/**
 * Per address family, the PBX: the address seen in more than half of the
 * packets to or from ports [lo, hi] and in more than any other; between
 * two seen as often (a capture of two hosts), the one more requests were
 * sent to, since phones and scanners send the PBX more requests than it
 * sends any one of them. Empty for a family where no address stands out
 * so (several PBXs); the caller then falls back on where requests go.
 */
export function pbxAddresses(inputs: ReadonlyArray<{ file: string; buf: Buffer }>, lo: number, hi: number): Set<string> {
  // Per family: address -> [packets it is in, requests sent to it].
  const seen = [new Map<string, [number, number]>(), new Map<string, [number, number]>()];
  const packets = [0, 0];
  const view = new PacketView();
  const msg = new SipMessage();
  const inRange = (p: number): boolean => p >= lo && p <= hi;
  for (const { file, buf } of inputs) {
    if (!startsLikeCapture(buf)) continue;
    for (const fr of readCapture(file, buf)) {
      if (fr.status !== 0 || decodeIp(fr.data, fr.ipOff, fr.ipLen, view) !== DECODE_OK) continue;
      if (!inRange(view.srcPort) && !inRange(view.dstPort)) continue;
      const fam = view.family as 4 | 6;
      const i = fam === 4 ? 0 : 1;
      packets[i]!++;
      const request = view.payloadLen > 0 && parseSip(view.buf, view.payloadOff, view.payloadOff + view.payloadLen, msg, false) !== PARSE_INVALID && msg.kind === KIND_REQUEST;
      for (const off of [view.srcOff, view.dstOff]) {
        const a = formatIp(view.buf, off, fam);
        const c = seen[i]!.get(a) ?? [0, 0];
        c[0]++;
        if (request && off === view.dstOff) c[1]++;
        seen[i]!.set(a, c);
      }
    }
  }
  const found = new Set<string>();
  const above = (x: [number, number], y: [number, number]): boolean => x[0] > y[0] || (x[0] === y[0] && x[1] > y[1]);
  for (let i = 0; i < 2; i++) {
    let best = '';
    let top: [number, number] = [0, 0];
    let second: [number, number] = [0, 0];
    for (const [a, c] of seen[i]!) {
      if (above(c, top)) {
        second = top;
        top = c;
        best = a;
      } else if (above(c, second)) {
        second = c;
      }
    }
    if (top[0] * 2 > packets[i]! && above(top, second)) found.add(best);
  }
  return found;
}
