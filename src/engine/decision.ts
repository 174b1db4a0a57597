// The outcome of one packet: verdict, reason and the side effects the caller
// must carry out (push a ban to the kernel set and the native hot table,
// mark a source trusted). One Decision is reused for every packet.

import { KIND_NONE, M_OTHER } from '../sip/constants.js';
import { R_OK } from './reasons.js';
import type { SourceKey } from './source-key.js';
import { VERDICT_ACCEPT } from './verdicts.js';

export class Decision {
  verdict: number = VERDICT_ACCEPT;
  reason = R_OK;
  /** Id of the rule that decided ('' when none): UA/fingerprint rule id, rate limit name. */
  ruleId = '';
  /** The source's state key (IPv4 int, IPv6 prefix string). */
  source: SourceKey = 0;
  /** The packet left the PBX (Engine.observe): `source` is its destination, the remote party. */
  peerIsDst = false;
  /** Side effect: the source was banned by this packet, for banSeconds. */
  ban = false;
  banSeconds = 0;
  /** Side effect: the source became (or stays) trusted by this packet, until trustUntil (ms). */
  trust = false;
  trustUntil = 0;
  /** What the packet carried (of its first SIP message), for metrics and output. */
  kind = KIND_NONE;
  method = M_OTHER;
  status = 0;
  /** SIP messages evaluated in this packet (a TCP segment can hold several, or none). */
  messages = 0;

  reset(): void {
    this.verdict = VERDICT_ACCEPT;
    this.reason = R_OK;
    this.ruleId = '';
    this.source = 0;
    this.peerIsDst = false;
    this.ban = false;
    this.banSeconds = 0;
    this.trust = false;
    this.trustUntil = 0;
    this.kind = KIND_NONE;
    this.method = M_OTHER;
    this.status = 0;
    this.messages = 0;
  }
}
