// The claim behind queuing from mangle INPUT (src/kernel/render-rules.ts):
// an NF_ACCEPT verdict from the queue resumes at the next hook entry, so the
// admin's filter INPUT rules still apply to packets sipwall accepts; queuing
// from filter INPUT would skip the rest of the admin's INPUT chain. Checked
// with a real NFQUEUE consumer answering NF_ACCEPT, fail-closed so that a
// delivered packet can only have come through a verdict.
import t from 'tap';
import { installRules } from '../../src/kernel/install-rules.js';
import { createPair, HOST4, NfqueueConsumer, PEER_A4, PEER_B4, pollUntil, UdpProbe, type NsPair } from '../helpers/kernel-ns.js';

if (process.getuid?.() !== 0) {
  t.plan(0, 'needs root for network namespaces');
  process.exit(0);
}

const ADMIN_DROP = ['-A INPUT -s 10.77.0.3/32 -p udp', '-j DROP'];

/** The admin's own rule: no SIP from PEER_B4. */
function adminDrop(pair: NsPair): void {
  pair.host.exec(['iptables', '-t', 'filter', '-A', 'INPUT', '-s', PEER_B4, '-p', 'udp', '--dport', '5060', '-j', 'DROP']);
}

t.test('queued from mangle (sipwall): accepted packets still meet the admin filter rules', async (t) => {
  const pair = createPair(t, 'mangle');
  adminDrop(pair);
  await installRules({ queueNum: 250, failOpen: false }, pair.host.runner);
  const consumer = await NfqueueConsumer.start(pair.host, 250, 1);
  const probe = await UdpProbe.start(pair);
  t.equal(await probe.delivered(PEER_A4, HOST4, 5060, PEER_A4), true, 'accepted by the consumer: delivered');
  const drops = pair.host.ruleCount(4, 'filter', ADMIN_DROP);
  t.equal(await probe.delivered(PEER_B4, HOST4, 5060, PEER_A4), false, 'accepted by the consumer, then dropped by the admin rule');
  t.equal(pair.host.ruleCount(4, 'filter', ADMIN_DROP), drops + 1, 'the admin rule saw it');
  // The consumer's stdout line can trail the packet it answered: wait for it, bounded.
  t.ok(await pollUntil(() => consumer.packets >= 2, 40, 50), `both went through the queue (${consumer.packets} verdicts)`);
});

t.test('queued from filter INPUT (the rejected design): NF_ACCEPT skips the admin rule', async (t) => {
  const pair = createPair(t, 'filter');
  pair.host.exec(['iptables', '-t', 'filter', '-A', 'INPUT', '-p', 'udp', '--dport', '5060', '-j', 'NFQUEUE', '--queue-num', '251']);
  adminDrop(pair);
  const consumer = await NfqueueConsumer.start(pair.host, 251, 1);
  const probe = await UdpProbe.start(pair);
  const drops = pair.host.ruleCount(4, 'filter', ADMIN_DROP);
  t.equal(await probe.delivered(PEER_B4, HOST4, 5060, PEER_A4), true, 'delivered despite the admin DROP after the queue rule');
  t.equal(pair.host.ruleCount(4, 'filter', ADMIN_DROP), drops, 'the admin rule never saw it');
  t.ok(await pollUntil(() => consumer.packets >= 1, 40, 50), `it went through the queue (${consumer.packets} verdicts)`);
});
