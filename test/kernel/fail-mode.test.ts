// What the installed queue rules do while no process is bound to the queue
// (sipwall dead or not started): failOpen decides.
import t from 'tap';
import { installRules } from '../../src/kernel/install-rules.js';
import { CONTROL_PORT, createPair, HOST4, HOST6, PEER_A4, PEER_A6, PEER_B4, PEER_B6, UdpProbe } from '../helpers/kernel-ns.js';

if (process.getuid?.() !== 0) {
  t.plan(0, 'needs root for network namespaces');
  process.exit(0);
}

const QUEUE_RULE = ['-A SIPWALL -p udp', 'NFQUEUE'];

t.test('failOpen true: SIP delivered through --queue-bypass', async (t) => {
  const pair = createPair(t, 'open');
  await installRules({ queueNum: 240, failOpen: true }, pair.host.runner);
  const probe = await UdpProbe.start(pair);
  const hits4 = pair.host.ruleCount(4, 'mangle', QUEUE_RULE);
  t.equal(await probe.delivered(PEER_A4, HOST4, 5060, PEER_B4), true, 'v4 delivered');
  t.ok(pair.host.ruleCount(4, 'mangle', QUEUE_RULE) > hits4, 'it did go through the NFQUEUE rule');
  t.equal(await probe.delivered(PEER_A6, HOST6, 5060, PEER_B6), true, 'v6 delivered');
});

t.test('failOpen false: SIP dropped while nobody listens, other ports unaffected', async (t) => {
  const pair = createPair(t, 'closed');
  await installRules({ queueNum: 241, failOpen: false }, pair.host.runner);
  const probe = await UdpProbe.start(pair);
  const hits4 = pair.host.ruleCount(4, 'mangle', QUEUE_RULE);
  t.equal(await probe.delivered(PEER_A4, HOST4, 5060, PEER_B4), false, 'v4 SIP dropped');
  t.ok(pair.host.ruleCount(4, 'mangle', QUEUE_RULE) > hits4, 'at the NFQUEUE rule');
  t.equal(await probe.delivered(PEER_A6, HOST6, 5060, PEER_B6), false, 'v6 SIP dropped');
  t.equal(await probe.delivered(PEER_A4, HOST4, CONTROL_PORT, PEER_B4), true, 'non-SIP port delivered');
});

t.test('trusted flows (connmark) skip the queue', async (t) => {
  for (const trustSkipQueue of [true, false]) {
    const pair = createPair(t, trustSkipQueue ? 'trust' : 'notrust');
    // Fail closed, nobody listening: only a flow that skips the queue gets through.
    await installRules({ queueNum: 242, failOpen: false, trustSkipQueue }, pair.host.runner);
    // Stands in for the engine's verdict, which sets the mark on a trusted flow.
    pair.host.exec(['iptables', '-t', 'mangle', '-A', 'PREROUTING', '-s', PEER_B4, '-j', 'CONNMARK', '--set-mark', '0x5157']);
    const probe = await UdpProbe.start(pair);
    t.equal(await probe.delivered(PEER_B4, HOST4, 5060, PEER_A4), trustSkipQueue, `trustSkipQueue ${trustSkipQueue}: marked flow ${trustSkipQueue ? 'delivered' : 'queued and dropped'}`);
    t.equal(await probe.delivered(PEER_A4, HOST4, 5060, PEER_B4), false, 'unmarked flow queued and dropped');
  }
});
