// SIP over TCP: segments arrive, not messages (RFC 3261 §18.3: Content-Length
// frames messages on a stream). Per flow (the 4-tuple, bounded by an LRU) we
// keep the next expected sequence number, a bounded copy of a header block
// that spans segments, how many body bytes still pass unparsed, and whether
// the flow was dropped: once one message on a flow is dropped, every later
// segment is too, so the PBX never sees the rest of a rejected stream.
//
// Every SIP message that starts in a segment is evaluated, so two REGISTERs
// in one segment both count toward the rate limits. Pure ACKs are accepted
// in the native tier without reaching us; SYN, FIN and RST come here.
//
// Where a connection starts and ends: the PBX's kernel says, not the
// client. Our next expected sequence number can run ahead of the kernel's:
// it may throw away a segment we judged (a bad checksum, a stale
// timestamp), and it ignores an RST or FIN not at the next expected byte
// (RFC 5961 §3.2) and a SYN on an established connection (§4.2). A flow
// forgotten or restarted on such a segment would have the rest of a
// request we hold judged as a message of its own, while the PBX completes
// the held one. So when the PBX's own TCP is watched (what it sends from
// the SIP ports is queued, `answers.watch`), its SYN|ACK starts a flow at
// the sequence number it acknowledges and its RST ends it (pbxSegment; for
// a connection the PBX opens from a SIP port, its first segment after the
// handshake does, at the number it acknowledges: not the remote party's
// SYN|ACK, which may be one its kernel threw away for another);
// the ack of every segment the PBX sends keeps the flow in step: a flow
// found behind it (bytes its kernel read that we never judged) is restarted
// there at a message boundary and dropped elsewhere;
// the client's SYN, FIN and RST change nothing, a segment far from the
// stream is dropped as a gap, and data on a connection whose start we did
// not see is dropped once PICKUP_MS have passed since the first segment
// (before that, connections open across a restart are picked up at their
// next data), or as soon as the table, full, has pushed out a flow: the
// client of that flow (who may have filled the table with spoofed segments
// to that end) would otherwise have the rest of its message picked up and
// judged as a message of its own, while the PBX completes the one it holds
// (even a flow that looked complete to us: the kernel may have thrown away
// the end we judged). Until a SYN|ACK of the PBX has been seen, the rules are the
// client's: a flow is forgotten on an RST or FIN at the next expected byte
// or at a message boundary, restarted on a SYN or a far segment only at a
// message boundary, and picked up at any first data.
//
// Segments the kernel never delivers as stream data are dropped: a SYN
// with data (no TCP Fast Open on a PBX), data without ACK (RFC 9293
// §3.10.7.4), and anything with URG, whose urgent byte the kernel takes out
// of the stream (RFC 6093) so the PBX reads other bytes than we judged.
// Payload-less RST and FIN always pass: they carry no SIP, and the PBX
// should see a dropped peer leave. A bare SYN creates no flow (a flood of
// them must not push live flows out of the table), and neither does the
// SYN|ACK the PBX answers it with: that is held aside (a table of its own)
// until the client's first data completes the handshake, acknowledging the
// PBX's initial sequence number, which a blind spoofer cannot know.
//
// Segments after a gap are dropped: the kernel has not delivered the missing
// bytes either, and the sender retransmits in order (RFC 9293 §3.10.7.4), so
// we only ever judge the stream in the order the PBX will read it.
//
// Bytes sent again (a retransmission, or a segment overlapping what was
// judged) pass only if they are the bytes we judged. We see a segment before
// the kernel's TCP does (netfilter runs first), and the kernel may still
// throw it away: a bad checksum, a PAWS-stale timestamp. An attacker who
// sends a harmless segment the kernel discards, then other bytes at the same
// sequence numbers, would otherwise have the PBX read bytes nobody judged
// (the insertion attack of Ptacek and Newsham, 1998). So each flow keeps the
// last SEEN_BYTES bytes it judged: a repeat that differs is dropped, and so
// is one older than that, which cannot be checked. Dropping such a segment
// is all it takes: the kernel can then only ever read the judged bytes at
// those sequence numbers, or none. The flow goes on, because a repeat that
// differs is also what a keep-alive probe with a garbage octet looks like
// (RFC 1122 §4.2.3.6: one byte at the sequence number before the next,
// sent by Windows), and ending the flow there cut the phone off.
// Bytes the PBX's kernel has acknowledged (the ack of any segment it sends
// that reaches us) need no check at all: a segment, or the part of one,
// at or before the receiver's next expected byte is thrown away unread
// (RFC 9293 §3.10.7.4; Linux tcp_data_queue), whatever it holds. So a
// keep-alive probe into acknowledged bytes passes, and the probing
// client's connection stays up.

import { LRUCache } from 'lru-cache';
import type { PacketView } from '../packet/packet-view.js';
import { MAX_HEADER_BYTES, PARSE_INCOMPLETE, PARSE_OK } from '../sip/constants.js';
import { parseSip } from '../sip/parse-sip.js';
import { SipMessage } from '../sip/sip-message.js';
import type { Decision } from './decision.js';
import type { Engine } from './engine.js';
import { R_FLOW_DROPPED, R_NO_PAYLOAD, R_PARTIAL, R_RETRANSMIT, R_TCP_FLAGS, R_TCP_GAP, R_TCP_OLD, R_TCP_OVERLAP } from './reasons.js';
import type { SourceKey } from './source-key.js';
import { VERDICT_ACCEPT, VERDICT_DROP } from './verdicts.js';

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;
const TCP_URG = 0x20;
/** Once the PBX's SYN|ACKs are seen, how long after the first segment a connection whose start was missed is still picked up. */
const PICKUP_MS = 15 * 60_000;
/** A sequence jump larger than this is a new connection on a reused 4-tuple, not a gap. */
const RESYNC_WINDOW = 1 << 20;
/** Judged bytes a flow keeps to compare repeats with: a full-size Ethernet segment and more. */
const SEEN_BYTES = 2048;

interface Flow {
  nextSeq: number;
  /** Bytes of an unfinished header block, held across segments (at most MAX_HEADER_BYTES). */
  pending: Buffer | null;
  pendingLen: number;
  /** Body bytes of the current message not yet seen: they pass without parsing. */
  skip: number;
  dropped: boolean;
  /** Dropped at a message boundary: what the PBX read so far ends a message, so forgetting the flow loses nothing. */
  dropSafe: boolean;
  /** The last seenLen bytes of the stream judged, ending at nextSeq (allocated with the first payload). */
  seen: Buffer | null;
  seenLen: number;
  /** The highest sequence number the PBX's kernel has acknowledged on this flow (-1: none seen). */
  acked: number;
}

export class TcpFlows {
  private readonly lru: LRUCache<string, Flow>;
  private readonly msg = new SipMessage();
  /** A SYN|ACK of the PBX has been seen: its kernel's view decides where connections start and end. */
  private pbxDriven = false;
  /** Time of the first segment, for PICKUP_MS (-1: none yet). */
  private since = -1;
  /** Flows pushed out of the full table: from the first, no more pickups. */
  evicted = 0;
  /**
   * Connections the PBX's kernel accepted (its SYN|ACK), by the client's
   * flow key, until the client's first data: the sequence number that data
   * must start at, and the PBX's ISN + 1, which its ack must cover.
   */
  private readonly accepted = new LRUCache<string, { clientNext: number; pbxNext: number }>({ max: 65536 });
  /**
   * Connections the PBX is opening from a SIP port (Kamailio with
   * tcp_reuse_port, say), by the remote party's flow key, from the PBX's
   * SYN to its first segment after the handshake. Only the PBX's own SYN
   * makes an entry, so a client cannot start a flow of its choosing.
   */
  private readonly outbound = new LRUCache<string, true>({ max: 4096 });

  constructor(maxFlows = 16384) {
    this.lru = new LRUCache<string, Flow>({
      max: maxFlows,
      dispose: (_f, _key, reason) => {
        if (reason === 'evict') this.evicted++;
      },
    });
  }

  get size(): number {
    return this.lru.size;
  }

  private static flowKey(v: PacketView): string {
    return TcpFlows.key(v, v.srcOff, v.dstOff, v.srcPort, v.dstPort);
  }

  /** A client's flow key from the PBX's segment to it. */
  private static reverseKey(v: PacketView): string {
    return TcpFlows.key(v, v.dstOff, v.srcOff, v.dstPort, v.srcPort);
  }

  private static key(v: PacketView, from: number, to: number, fromPort: number, toPort: number): string {
    const alen = v.family === 4 ? 4 : 16;
    return `${v.buf.toString('latin1', from, from + alen)}${v.buf.toString('latin1', to, to + alen)}${fromPort}:${toPort}`;
  }

  /**
   * A TCP segment the PBX sends from a SIP port (Engine.observe): its
   * SYN|ACK (a connection its kernel accepted) starts the client's flow at
   * the acknowledged sequence number; its RST ends it.
   */
  pbxSegment(v: PacketView): void {
    const flags = v.tcpFlags;
    if ((flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) {
      // A new connection on this 4-tuple (its kernel answers a SYN on a live one with an ACK, RFC 5961 §4).
      this.pbxDriven = true;
      const rk = TcpFlows.reverseKey(v);
      this.lru.delete(rk);
      this.accepted.set(rk, { clientNext: v.tcpAck >>> 0, pbxNext: (v.tcpSeq + 1) >>> 0 });
    } else if ((flags & TCP_SYN) !== 0) {
      // The PBX connects out; whatever this 4-tuple carried before is over.
      const rk = TcpFlows.reverseKey(v);
      this.lru.delete(rk);
      this.outbound.set(rk, true);
    } else if ((flags & TCP_RST) !== 0) {
      this.lru.delete(TcpFlows.reverseKey(v));
    } else if ((flags & TCP_ACK) !== 0) {
      // Its data and FINs reach us (pure ACKs are answered in the native
      // tier): each acknowledges what its kernel has read in order.
      const rk = TcpFlows.reverseKey(v);
      const a = v.tcpAck >>> 0;
      // The first we see of a connection after its handshake (one the PBX
      // opened, or one it accepted where it speaks first): the remote
      // party's stream starts where its kernel says.
      if (this.outbound.delete(rk) || this.accepted.delete(rk)) {
        this.lru.set(rk, TcpFlows.fresh(a, a));
        return;
      }
      const f = this.lru.peek(rk);
      if (f === undefined) return;
      if (!TcpFlows.ackKnown(f) || ((a - f.acked) | 0) > 0) f.acked = a;
      // Ahead of us (the FIN it acknowledges takes one): its kernel read
      // bytes we never judged (they went past the queue, or the flow began
      // at a segment it threw away). Where the PBX's messages begin is then
      // known only if nothing of one was left over on our side.
      if (!f.dropped && ((a - f.nextSeq) | 0) > 1) {
        if (TcpFlows.atBoundary(f)) TcpFlows.restart(f, a);
        else this.unframed(f);
      }
    }
  }

  /** Whether f.acked holds an ack near enough the stream to compare sequence numbers with (not one 2^31 bytes stale). */
  private static ackKnown(f: Flow): boolean {
    if (f.acked < 0) return false;
    const lag = (f.nextSeq - f.acked) | 0;
    return lag <= RESYNC_WINDOW && lag >= -RESYNC_WINDOW;
  }

  /** Starts the flow afresh at `seq`, at a message boundary. */
  private static restart(f: Flow, seq: number): void {
    f.nextSeq = seq;
    f.pending = null;
    f.pendingLen = 0;
    f.skip = 0;
    f.seenLen = 0;
    f.acked = -1;
  }

  /** Whether forgetting the flow, or starting it afresh, loses nothing: nothing of a message is held or owed. */
  private static atBoundary(f: Flow): boolean {
    return f.dropped ? f.dropSafe : f.pendingLen === 0 && f.skip === 0;
  }

  private static drop(d: Decision, reason: number): void {
    d.verdict = VERDICT_DROP;
    d.reason = reason;
  }

  private static noPayload(d: Decision): void {
    d.verdict = VERDICT_ACCEPT;
    d.reason = R_NO_PAYLOAD;
  }

  /** A flow whose stream starts at `seq`; `acked`: what the PBX's kernel has acknowledged, when it said (-1: unknown). */
  private static fresh(seq: number, acked = -1): Flow {
    return { nextSeq: seq, pending: null, pendingLen: 0, skip: 0, dropped: false, dropSafe: false, seen: null, seenLen: 0, acked };
  }

  segment(engine: Engine, v: PacketView, key: SourceKey, now: number, d: Decision): void {
    const flags = v.tcpFlags;
    if (this.since < 0) this.since = now;
    const fk = TcpFlows.flowKey(v);
    let f = this.lru.get(fk);
    // URG, a SYN with data, data without ACK: not stream data the PBX reads as we would (see above).
    if ((flags & TCP_URG) !== 0) return TcpFlows.drop(d, R_TCP_FLAGS);
    if ((flags & TCP_RST) !== 0 || (v.payloadLen === 0 && (flags & TCP_FIN) !== 0)) {
      // Without the PBX's view: the kernel resets or closes only at the next expected byte (RFC 5961 §3.2).
      if (!this.pbxDriven && f !== undefined && (TcpFlows.atBoundary(f) || (!f.dropped && v.tcpSeq >>> 0 === f.nextSeq))) this.lru.delete(fk);
      return TcpFlows.noPayload(d);
    }
    if ((flags & TCP_SYN) !== 0) {
      if (v.payloadLen > 0) return TcpFlows.drop(d, R_TCP_FLAGS);
      // Without the PBX's view: mid-message, the kernel ignores a SYN on an established connection (§4.2).
      if (!this.pbxDriven && f !== undefined && TcpFlows.atBoundary(f)) this.lru.delete(fk);
      return TcpFlows.noPayload(d); // the first data (or the PBX's SYN|ACK) creates the flow
    }
    if (v.payloadLen === 0) return f !== undefined && f.dropped ? TcpFlows.drop(d, R_FLOW_DROPPED) : TcpFlows.noPayload(d);
    if ((flags & TCP_ACK) === 0) return TcpFlows.drop(d, R_TCP_FLAGS);
    const seq = v.tcpSeq >>> 0;
    if (f === undefined) {
      // A connection the PBX is opening: it starts at the PBX's first segment (pbxSegment), not here.
      if (this.outbound.has(fk)) return TcpFlows.drop(d, R_TCP_GAP);
      const h = this.accepted.get(fk);
      if (h !== undefined) {
        // The handshake's end: at the number the SYN|ACK acknowledged, acknowledging the PBX's ISN
        // (within a window: the PBX may have sent some data first). Anything else its kernel refuses too.
        const past = ((v.tcpAck >>> 0) - h.pbxNext) | 0;
        if (seq !== h.clientNext || past < 0 || past >= RESYNC_WINDOW) return TcpFlows.drop(d, R_TCP_GAP);
        this.accepted.delete(fk);
        f = TcpFlows.fresh(seq, seq);
      } else {
        if (this.pbxDriven && (now - this.since > PICKUP_MS || this.evicted > 0)) return TcpFlows.drop(d, R_TCP_GAP);
        f = TcpFlows.fresh(seq);
      }
      this.lru.set(fk, f);
    }
    if (f.dropped) return TcpFlows.drop(d, R_FLOW_DROPPED);
    let delta = (seq - f.nextSeq) | 0;
    if (delta > RESYNC_WINDOW || delta < -RESYNC_WINDOW) {
      // Far from where the stream stands: a segment the kernel will throw
      // away as out of window, or (without the PBX's view) a new connection
      // on a reused 4-tuple whose start we missed. Start afresh only
      // without the PBX's view and where that loses nothing.
      if (this.pbxDriven || !TcpFlows.atBoundary(f)) return TcpFlows.drop(d, R_TCP_GAP);
      TcpFlows.restart(f, seq);
      delta = 0;
    }
    if (delta > 0) return TcpFlows.drop(d, R_TCP_GAP);
    if (delta < 0) {
      // The first -delta bytes (or all of them) repeat judged ones: they
      // must be the same bytes, but for those the PBX has acknowledged.
      const back = -delta;
      const n = Math.min(back, v.payloadLen);
      const acked = TcpFlows.ackKnown(f) ? Math.max(0, Math.min(n, (f.acked - seq) | 0)) : 0;
      if (acked < n) {
        if (back - acked > f.seenLen) return TcpFlows.drop(d, R_TCP_OLD);
        const from = f.seenLen - back;
        if (f.seen!.compare(v.buf, v.payloadOff + acked, v.payloadOff + n, from + acked, from + n) !== 0) return TcpFlows.drop(d, R_TCP_OVERLAP);
      }
      if (n === v.payloadLen) {
        d.verdict = VERDICT_ACCEPT;
        d.reason = R_RETRANSMIT;
        return;
      }
    }
    const end = v.payloadOff + v.payloadLen;
    const start = v.payloadOff - delta;
    f.nextSeq = (seq + v.payloadLen) >>> 0;
    // A NUL anywhere on the stream, body included: Asterisk's chan_sip
    // appends each read as a C string (sip_tcptls_read: "%s"), so what
    // follows a NUL in that read is lost to it, and the next message we
    // frame is, to chan_sip, part of this one (or the reverse). SIP is text
    // (§7); a binary body (SIP-T ISUP) over TCP from an untrusted source is
    // the price. Bounded search: a view of the new bytes only.
    const boundary = TcpFlows.atBoundary(f); // f is not dropped here
    if (v.buf.subarray(start, end).indexOf(0) >= 0) {
      engine.classifyBad(v.buf, start, end, d);
      this.unframed(f);
    } else {
      this.remember(f, v.buf, start, end);
      this.consume(engine, f, v.buf, start, end, key, now, d);
    }
    if (d.verdict === VERDICT_DROP) f.dropped = true;
    // The PBX gets none of a dropped segment: it stands where the segment began.
    if (f.dropped) f.dropSafe = d.verdict === VERDICT_DROP && boundary;
  }

  /** Appends buf[s, e), the stream's newly judged bytes, to the flow's last SEEN_BYTES. */
  private remember(f: Flow, buf: Buffer, s: number, e: number): void {
    const seen = (f.seen ??= Buffer.allocUnsafe(SEEN_BYTES));
    const n = e - s;
    if (n >= SEEN_BYTES) {
      buf.copy(seen, 0, e - SEEN_BYTES, e);
      f.seenLen = SEEN_BYTES;
      return;
    }
    const keep = Math.min(f.seenLen, SEEN_BYTES - n);
    if (keep > 0 && keep < f.seenLen) seen.copyWithin(0, f.seenLen - keep, f.seenLen);
    buf.copy(seen, keep, s, e);
    f.seenLen = keep + n;
  }

  private consume(engine: Engine, f: Flow, buf: Buffer, p: number, end: number, key: SourceKey, now: number, d: Decision): void {
    const msg = this.msg;
    if (f.skip > 0) {
      const n = Math.min(f.skip, end - p);
      f.skip -= n;
      p += n;
    }
    while (p < end) {
      if (f.pendingLen > 0) {
        const held = f.pendingLen;
        const take = Math.min(end - p, MAX_HEADER_BYTES - held);
        const pend = this.grow(f, held + take);
        buf.copy(pend, held, p, p + take);
        f.pendingLen = held + take;
        const st = parseSip(pend, 0, f.pendingLen, msg, true);
        if (st === PARSE_OK && msg.end > held) {
          engine.evaluate(msg, key, now, d);
          p += msg.end - held;
          f.pending = null;
          f.pendingLen = 0;
        } else if (st === PARSE_INCOMPLETE && msg.bodyStart >= 0) {
          engine.evaluate(msg, key, now, d);
          f.skip = msg.bodyStart + Math.max(0, msg.contentLength) - f.pendingLen;
          p += take;
          f.pending = null;
          f.pendingLen = 0;
          const n = Math.min(f.skip, end - p);
          f.skip -= n;
          p += n;
        } else if (st === PARSE_INCOMPLETE && f.pendingLen < MAX_HEADER_BYTES) {
          p += take;
          if (d.messages === 0) { d.verdict = VERDICT_ACCEPT; d.reason = R_PARTIAL; }
        } else {
          engine.classifyBad(pend, 0, f.pendingLen, d);
          this.unframed(f);
          return;
        }
      } else {
        const st = parseSip(buf, p, end, msg, true);
        if (st === PARSE_OK && msg.end > p) {
          engine.evaluate(msg, key, now, d);
          p = msg.end;
        } else if (st === PARSE_INCOMPLETE && msg.bodyStart >= 0) {
          engine.evaluate(msg, key, now, d);
          f.skip = msg.bodyStart + Math.max(0, msg.contentLength) - end;
          p = end;
        } else if (st === PARSE_INCOMPLETE && end - p < MAX_HEADER_BYTES) {
          const pend = this.grow(f, end - p);
          buf.copy(pend, 0, p, end);
          f.pendingLen = end - p;
          if (d.messages === 0) { d.verdict = VERDICT_ACCEPT; d.reason = R_PARTIAL; }
          p = end;
        } else {
          engine.classifyBad(buf, p, end, d);
          this.unframed(f);
          return;
        }
      }
      if (d.verdict === VERDICT_DROP) return;
    }
  }

  /**
   * Bytes that are not a SIP message (or not one sipwall can read) on a
   * stream: policy decides this segment (policy.invalidSip / nonSip), but
   * where the next message starts is lost, and whatever the PBX reads after
   * these bytes sipwall could not judge. So the flow is dropped from here
   * on, whichever the policy: accepting it would let the rest of the
   * connection through unjudged.
   */
  private unframed(f: Flow): void {
    f.dropped = true;
    f.pending = null;
    f.pendingLen = 0;
  }

  /** The flow's pending buffer, at least `n` bytes, keeping what it holds. Bounded by MAX_HEADER_BYTES. */
  private grow(f: Flow, n: number): Buffer {
    if (f.pending !== null && f.pending.length >= n) return f.pending;
    const size = Math.min(MAX_HEADER_BYTES, Math.max(512, n * 2));
    const b = Buffer.allocUnsafe(size);
    if (f.pending !== null) f.pending.copy(b, 0, 0, f.pendingLen);
    f.pending = b;
    return b;
  }
}
