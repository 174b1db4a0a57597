// A second kind of real phone: a sipp UAC (Debian's sip-tester) that, once
// per "call", registers as extension 101 to the secret hostname with digest
// auth, calls extension 100 (baresip, which answers), holds briefly and
// hangs up. Response-time distributions (-trace_rtt) give the latency of the
// registration (RTD 1: first REGISTER to its 200) and of the call setup
// (RTD 2: first INVITE to its 200); -trace_stat gives calls made and failed.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BARESIP_EXTENSION, EXTENSIONS, PBX, SECRET_HOST, SIPP, SIPP_EXTENSION, SIP_PORT } from './lab-constants.js';
import { Proc } from '../lib/proc.js';
import type { Topology } from './topology.js';

const UA = 'Yealink SIP-T46S 66.86.0.15';

function scenario(): string {
  const me = `<sip:${SIPP_EXTENSION}@${SECRET_HOST}>`;
  const callee = `sip:${BARESIP_EXTENSION}@${SECRET_HOST}`;
  const sdp = `v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
`;
  const register = (cseq: number, auth: boolean, rtd: string): string => `  <send retrans="500"${rtd}>
    <![CDATA[
      REGISTER sip:${SECRET_HOST} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: ${me};tag=[pid]R[call_number]
      To: ${me}
      Call-ID: [call_id]
      CSeq: ${cseq} REGISTER
      Contact: <sip:${SIPP_EXTENSION}@[local_ip]:[local_port]>
${auth ? '      [authentication]\n' : ''}      Max-Forwards: 70
      Expires: 60
      User-Agent: ${UA}
      Content-Length: 0

    ]]>
  </send>
`;
  const invite = (cseq: number, auth: boolean, rtd: string): string => `  <send retrans="500"${rtd}>
    <![CDATA[
      INVITE ${callee} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: ${me};tag=[pid]I[call_number]
      To: <${callee}>
      Call-ID: [call_id]
      CSeq: ${cseq} INVITE
      Contact: <sip:${SIPP_EXTENSION}@[local_ip]:[local_port]>
${auth ? '      [authentication]\n' : ''}      Max-Forwards: 70
      User-Agent: ${UA}
      Content-Type: application/sdp
      Content-Length: [len]

      ${sdp}
    ]]>
  </send>
`;
  const inDialog = (method: string, cseq: number, retrans: boolean): string => `  <send${retrans ? ' retrans="500"' : ''}>
    <![CDATA[
      ${method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: ${me};tag=[pid]I[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: ${cseq} ${method}
      Contact: <sip:${SIPP_EXTENSION}@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: ${UA}
      Content-Length: 0

    ]]>
  </send>
`;
  // A provisional response can arrive after the 200 (baresip sends 180 and
  // 200 back to back; the veth pair may deliver them from two CPUs' backlogs
  // out of order). sipp aborts a call on a message its current step does not
  // expect, even while pausing before the BYE; "global" lets these steps
  // match at any later point, and advance_state="false" keeps such a late
  // one from rewinding the scenario to wait for the 200 again.
  const late = 'optional="global" advance_state="false"';
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!-- Written by bench/attack-lab: a phone that registers, calls ${BARESIP_EXTENSION} and hangs up. -->
<scenario name="legit phone">
${register(1, false, ' start_rtd="1"')}  <recv response="401" auth="true"/>
${register(2, true, '')}  <recv response="200" rtd="1"/>
${invite(3, false, ' start_rtd="2"')}  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send>
    <![CDATA[
      ACK ${callee} SIP/2.0
      [last_Via:]
      From: ${me};tag=[pid]I[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
${invite(4, true, '')}  <recv response="100" ${late}/>
  <recv response="180" ${late}/>
  <recv response="183" ${late}/>
  <recv response="200" rtd="2" rrs="true"/>
${inDialog('ACK', 4, false)}  <pause milliseconds="300"/>
${inDialog('BYE', 5, true)}  <recv response="200"/>
</scenario>
`;
}

export interface SippResult {
  created: number;
  successful: number;
  failed: number;
  /** Registration latency samples (ms): first REGISTER to its 200, challenge included. */
  registerMs: number[];
  /** Call setup latency samples (ms): first INVITE to its 200, challenge included. */
  callSetupMs: number[];
  exitCode: number | null;
  errors: string;
}

/** Runs `calls` register+call cycles at `rate` per second; bounded by sipp's own -timeout and a kill. */
export async function runSippPhone(topo: Topology, dir: string, calls: number, rate: number): Promise<SippResult> {
  const sf = join(dir, 'legit-phone.xml');
  writeFileSync(sf, scenario());
  const maxSeconds = Math.ceil(calls / rate) + 40;
  const argv = [
    'sipp', '-sf', sf, '-i', SIPP, '-p', String(SIP_PORT),
    '-au', SIPP_EXTENSION, '-ap', EXTENSIONS[SIPP_EXTENSION] ?? '',
    '-m', String(calls), '-r', String(rate), '-l', '4',
    // A call that got no answer for 20 s has failed (retransmissions: 0.5, 1, 2, 4, 4... s).
    '-recv_timeout', '20000', '-timeout', `${maxSeconds}s`, '-timeout_error',
    '-trace_stat', '-fd', '1', '-trace_rtt', '-rtt_freq', '1', '-trace_err', '-nostdin',
    `${PBX}:${SIP_PORT}`,
  ];
  const p = new Proc(topo.argv('phone', argv), { cwd: dir });
  const code = await p.waitExit((maxSeconds + 10) * 1000);
  const files = readdirSync(dir);
  const read = (suffix: string): string => {
    const f = files.find((n) => n.startsWith('legit-phone_') && n.endsWith(suffix));
    return f === undefined ? '' : readFileSync(join(dir, f), 'utf8');
  };
  const rtt = read('_rtt.csv')
    .split('\n')
    .slice(1)
    .map((l) => l.split(';'))
    .filter((f) => f.length >= 3);
  const stat = read('_.csv').trim().split('\n');
  const header = (stat[0] ?? '').split(';');
  const last = (stat[stat.length - 1] ?? '').split(';');
  const field = (name: string): number => {
    const i = header.indexOf(name);
    return i < 0 ? 0 : Number(last[i] ?? 0);
  };
  return {
    created: field('TotalCallCreated'),
    successful: field('SuccessfulCall(C)'),
    failed: field('FailedCall(C)'),
    registerMs: rtt.filter((f) => f[2] === '1').map((f) => Number(f[1])),
    callSetupMs: rtt.filter((f) => f[2] === '2').map((f) => Number(f[1])),
    exitCode: code,
    errors: read('_errors.log').slice(0, 2000),
  };
}
