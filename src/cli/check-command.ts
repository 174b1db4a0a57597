// `sipwall check [--config FILE] FILE...`: runs the engine offline over
// pcap/pcapng captures or raw SIP message files and prints one JSON object per
// packet, then a summary. No privilege, no kernel: this is how an admin tries
// a rules change before deploying it.

import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import { Decision } from '../engine/decision.js';
import { Engine } from '../engine/engine.js';
import { REASON_NAMES, R_UNDECODABLE } from '../engine/reasons.js';
import { sourceKeyText } from '../engine/source-key.js';
import { VERDICT_DROP, VERDICT_NAMES } from '../engine/verdicts.js';
import { formatIp, parseIp } from '../packet/address.js';
import { buildUdpPacket } from '../packet/build-packet.js';
import { startsLikeCapture, readCapture } from '../packet/capture-reader.js';
import { decodeIp } from '../packet/decode-ip.js';
import { DECODE_OK, DECODE_REASONS, PacketView, PROTO_TCP } from '../packet/packet-view.js';
import { compileRules } from '../rules/compile-rules.js';
import { loadConfig } from '../rules/load-config.js';
import { KIND_KEEPALIVE, KIND_REQUEST, KIND_RESPONSE, M_OTHER, METHOD_NAMES, PARSE_INVALID } from '../sip/constants.js';
import { parseSip } from '../sip/parse-sip.js';
import { SipMessage } from '../sip/sip-message.js';
import { pbxAddresses } from './learn-pbx.js';
import { parseFlags, parsePortRange } from './parse-flags.js';

export const CHECK_HELP = `Usage: sipwall check [options] FILE...

Runs the rules over capture files (pcap, pcapng) or raw SIP message files
offline and prints one JSON object per packet, then a summary object.
Needs no privilege and changes nothing on the host.

Options:
  -c, --config FILE   the admin's rules file (default /etc/sipwall/sipwall.yaml if present)
      --defaults      use the shipped defaults only, ignore /etc/sipwall/sipwall.yaml
      --ports RANGE   SIP ports: packets to or from them are judged (default: the rules file's inline.ports)
      --src IP        source address for raw SIP message files (default 192.0.2.1)
      --pbx IP        the PBX's address (repeatable): packets it sends from a SIP port
                      are its answers, watched as sipwall start watches them. Default:
                      the address on one side of most SIP packets (a capture taken on
                      the PBX has it in every one); where none stands out, every
                      address that SIP requests in the files were sent to
      --summary       print only the summary
  -h, --help          this text

Exit status: 0 when every file was read, 65 when a file cannot be read as a
capture or a message, 78 for a bad rules file, 64 for bad usage.`;

/** Largest raw SIP message file accepted: one UDP datagram. */
const MAX_MESSAGE_FILE = 65507;

export interface CheckSummary {
  packets: number;
  accept: number;
  drop: number;
  undecodable: number;
  byReason: Record<string, number>;
  bans: Array<{ source: string; seconds: number; reason: string; rule: string }>;
}

export function runCheck(argv: string[], out: (line: string) => void, err: (line: string) => void): number {
  const { values, positionals } = parseFlags('check', argv, {
    config: { type: 'string', short: 'c' },
    defaults: { type: 'boolean' },
    ports: { type: 'string' },
    src: { type: 'string' },
    pbx: { type: 'string', multiple: true },
    summary: { type: 'boolean' },
  }, true);
  if (values.help === true) {
    out(CHECK_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('sipwall check: give at least one capture or SIP message file (see sipwall check --help)');
  if (values.config !== undefined && values.defaults === true) throw new UsageError('sipwall check: --config and --defaults exclude each other');
  const portsArg = values.ports !== undefined ? parsePortRange('check', values.ports) : null;
  const rawSrc = values.src ?? '192.0.2.1';
  const srcIp = parseIp(rawSrc);
  if (srcIp === null) throw new UsageError(`sipwall check: --src ${JSON.stringify(rawSrc)} is not an IP address`);
  const rawDst = srcIp.family === 4 ? '192.0.2.2' : '2001:db8::2';
  // The PBX's addresses, as text: given, or learnt from where requests go.
  const pbx = new Set<string>();
  for (const a of values.pbx ?? []) {
    const ip = parseIp(a);
    if (ip === null) throw new UsageError(`sipwall check: --pbx ${JSON.stringify(a)} is not an IP address`);
    pbx.add(formatIp(ip.bytes, 0, ip.family));
  }
  let learnPbx = pbx.size === 0;

  // Read every file first: a missing or unreadable file is reported before any output.
  const inputs = positionals.map((file) => ({ file, buf: readInput(file) }));
  const loaded = loadConfig({ configFile: values.defaults === true ? null : values.config });
  for (const w of loaded.warnings) err(`sipwall check: warning: ${w}`);
  const [portLo, portHi] = portsArg ?? parsePortRange('check', loaded.config.inline.ports);
  if (learnPbx) {
    // The address on one side of most SIP packets (learn-pbx.ts); failing that, where requests go.
    for (const a of pbxAddresses(inputs, portLo, portHi)) pbx.add(a);
    learnPbx = pbx.size === 0;
  }
  const engine = new Engine(compileRules(loaded.config));
  const view = new PacketView();
  const d = new Decision();
  const shown = new SipMessage();
  const summaryOnly = values.summary === true;
  const sum: CheckSummary = { packets: 0, accept: 0, drop: 0, undecodable: 0, byReason: {}, bans: [] };
  const v6 = loaded.config.ipv6PrefixLength;

  // Raw message files have no timestamps: they are judged 1 ms apart from now.
  let clock = Date.now();
  const judge = (file: string, frame: number, buf: Buffer, off: number, len: number, now: number): void => {
    const st = decodeIp(buf, off, len, view);
    if (st !== DECODE_OK) {
      sum.undecodable++;
      count(sum, REASON_NAMES[R_UNDECODABLE]!);
      if (!summaryOnly) out(JSON.stringify({ file, frame, verdict: null, reason: 'undecodable', detail: DECODE_REASONS[st] ?? 'unknown' }));
      return;
    }
    const inRange = (p: number): boolean => p >= portLo && p <= portHi;
    if (!inRange(view.dstPort) && !inRange(view.srcPort)) return; // not SIP traffic: the kernel rules would not queue it
    const fam0 = view.family as 4 | 6;
    const outbound = inRange(view.srcPort) && pbx.has(formatIp(view.buf, view.srcOff, fam0));
    if (outbound) {
      engine.observe(view, now, d);
    } else {
      engine.decide(view, now, d);
      if (learnPbx && inRange(view.dstPort) && d.kind === KIND_REQUEST) pbx.add(formatIp(view.buf, view.dstOff, fam0));
    }
    sum.packets++;
    const verdict = VERDICT_NAMES[d.verdict]!;
    if (d.verdict === VERDICT_DROP) sum.drop++;
    else sum.accept++;
    const reason = REASON_NAMES[d.reason]!;
    count(sum, reason);
    if (d.ban) sum.bans.push({ source: sourceKeyText(d.source, v6), seconds: d.banSeconds, reason, rule: d.ruleId });
    if (summaryOnly) return;
    const fam = view.family as 4 | 6;
    const o: Record<string, unknown> = {
      file,
      frame,
      src: formatIp(view.buf, view.srcOff, fam),
      sport: view.srcPort,
      dst: formatIp(view.buf, view.dstOff, fam),
      dport: view.dstPort,
      proto: view.proto === PROTO_TCP ? 'tcp' : 'udp',
    };
    if (outbound) o['dir'] = 'out';
    // The engine stops before parsing when the source decides (banned,
    // trusted): parse here so the admin still sees what each packet was.
    let kind = d.kind;
    let method = d.method;
    let status = d.status;
    if (d.messages === 0 && view.payloadLen > 0) {
      const stream = view.proto === PROTO_TCP;
      if (parseSip(view.buf, view.payloadOff, view.payloadOff + view.payloadLen, shown, stream) !== PARSE_INVALID) {
        kind = shown.kind;
        method = shown.method;
        status = shown.status;
      }
    }
    if (kind === KIND_REQUEST) o['method'] = shown.methodStart >= 0 && method === M_OTHER && d.messages === 0 ? shown.buf.toString('latin1', shown.methodStart, shown.methodEnd) : METHOD_NAMES[method];
    else if (kind === KIND_RESPONSE) o['status'] = status;
    else if (kind === KIND_KEEPALIVE) o['keepalive'] = true;
    o['verdict'] = verdict;
    o['reason'] = reason;
    if (d.ruleId !== '') o['rule'] = d.ruleId;
    if (d.ban) o['ban'] = d.banSeconds;
    if (d.trust) o['trust'] = true;
    out(JSON.stringify(o));
  };

  for (const { file, buf } of inputs) {
    const name = basename(file);
    // A capture whose header is cut or wrong: readCapture's InputError (exit 65), not its bytes judged as SIP.
    if (startsLikeCapture(buf)) {
      for (const fr of readCapture(file, buf)) {
        if (fr.status !== 0) {
          sum.undecodable++;
          count(sum, REASON_NAMES[R_UNDECODABLE]!);
          if (!summaryOnly) out(JSON.stringify({ file: name, frame: fr.index, verdict: null, reason: 'undecodable', detail: fr.reason }));
          continue;
        }
        judge(name, fr.index, fr.data, fr.ipOff, fr.ipLen, fr.tsMicros / 1000);
      }
    } else {
      const pkt = buildUdpPacket(rawSrc, rawDst, 5060, portLo, buf);
      judge(name, 1, pkt, 0, pkt.length, clock++);
    }
  }
  out(JSON.stringify({ summary: sum }));
  return 0;
}

function count(sum: CheckSummary, reason: string): void {
  sum.byReason[reason] = (sum.byReason[reason] ?? 0) + 1;
}

function readInput(file: string): Buffer {
  try {
    if (!statSync(file).isFile()) throw new InputError(file, 'is not a regular file');
    const buf = readFileSync(file);
    if (!startsLikeCapture(buf) && buf.length > MAX_MESSAGE_FILE) {
      throw new InputError(file, `is neither a capture file nor a SIP message (${buf.length} bytes, more than one datagram holds)`);
    }
    return buf;
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(file, code === 'ENOENT' ? 'no such file' : `cannot be read: ${(e as Error).message}`);
  }
}
