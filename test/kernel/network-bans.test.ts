// The run's list of networks banned by hand (network-bans.ts): one spelling
// per network, newest first, ended ones forgotten, the trust of a wider
// network lifting the ones inside it.
import t from 'tap';
import { NetworkBans, networkText } from '../../src/kernel/network-bans.js';
import { parseCidr, type ParsedCidr } from '../../src/packet/address.js';

const cidr = (text: string): ParsedCidr => {
  const c = parseCidr(text);
  if (c === null) throw new Error(text);
  return c;
};

t.test('one spelling: host bits cleared, IPv6 compressed, as ipset prints it', async (t) => {
  t.equal(networkText(cidr('10.88.7.9/16')), '10.88.0.0/16');
  t.equal(networkText(cidr('2001:0db8:0000::1/32')), '2001:db8::/32');
  const n = new NetworkBans();
  n.add(cidr('10.88.7.9/16'), 5000);
  n.add(cidr('10.88.0.0/16'), 9000);
  t.same(n.active(0), [{ cidr: '10.88.0.0/16', until: 9000 }], 'the same network twice is one ban, with the last ban\'s end (as ipset -exist keeps it)');
  t.ok(n.remove(cidr('10.88.1.1/16')), 'removed under any spelling');
  t.equal(n.size, 0);
  t.notOk(n.remove(cidr('10.88.0.0/16')), 'a second remove finds nothing');
});

t.test('newest first; ended bans are not listed and are forgotten', async (t) => {
  const n = new NetworkBans();
  n.add(cidr('10.1.0.0/16'), 100);
  n.add(cidr('10.2.0.0/16'), 300);
  n.add(cidr('10.3.0.0/16'), 200);
  n.add(cidr('10.1.0.0/16'), 400); // banned again: now the newest
  t.same(n.active(0).map((e) => e.cidr), ['10.1.0.0/16', '10.3.0.0/16', '10.2.0.0/16']);
  t.same(n.active(250).map((e) => e.cidr), ['10.1.0.0/16', '10.2.0.0/16'], 'an end at or before now is over');
  t.equal(n.size, 2, 'and gone from the list');
});

t.test('removeWithin lifts the networks inside a wider one, of its family, and nothing else', async (t) => {
  const n = new NetworkBans();
  for (const c of ['10.88.0.0/16', '10.88.4.0/24', '10.89.0.0/16', '10.0.0.0/8', '2001:db8:1::/48', '2001:db9::/32']) n.add(cidr(c), 1000);
  t.same(n.removeWithin(cidr('10.88.0.0/15')).sort(), ['10.88.0.0/16', '10.88.4.0/24', '10.89.0.0/16']);
  t.same(n.active(0).map((e) => e.cidr).sort(), ['10.0.0.0/8', '2001:db8:1::/48', '2001:db9::/32'], 'a wider network (/8) stays: trusting part of it does not lift it');
  t.same(n.removeWithin(cidr('2001:db8::/32')), ['2001:db8:1::/48']);
  t.same(n.removeWithin(cidr('0.0.0.0/1')), ['10.0.0.0/8'], 'IPv4 only for an IPv4 network');
  t.same(n.active(0).map((e) => e.cidr), ['2001:db9::/32']);
});

t.test('seedFrom: what the admin does while the kernel set is read wins over what the read brings back', async (t) => {
  const n = new NetworkBans();
  n.add(cidr('10.1.0.0/16'), 1000);
  await n.seedFrom(async (seed) => {
    seed(cidr('10.2.0.0/16'), 2000); // a crashed run's ban, read back
    n.remove(cidr('10.3.0.0/16')); // unbanned while the read runs, before the read reaches its line
    seed(cidr('10.3.0.0/16'), 3000);
    n.removeWithin(cidr('10.4.0.0/16')); // a trusted network
    seed(cidr('10.5.1.0/24'), 3000);
    seed(cidr('10.4.9.0/24'), 3000);
    n.add(cidr('10.6.0.0/16'), 9000); // banned again by the admin
    seed(cidr('10.6.0.0/16'), 4000);
    seed(cidr('10.1.0.0/16'), 5000); // known already: this run's end stays
    await new Promise((r) => setImmediate(r));
  });
  t.same(
    n.active(0).map((e) => [e.cidr, e.until]).sort(),
    [['10.1.0.0/16', 1000], ['10.2.0.0/16', 2000], ['10.5.1.0/24', 3000], ['10.6.0.0/16', 9000]].sort(),
  );
  n.remove(cidr('10.2.0.0/16'));
  await n.seedFrom(async (seed) => seed(cidr('10.7.0.0/16'), 1000));
  t.same(n.active(0).map((e) => e.cidr).sort(), ['10.1.0.0/16', '10.5.1.0/24', '10.6.0.0/16', '10.7.0.0/16'], 'a remove before a read does not block it');
  await t.rejects(n.seedFrom(async () => Promise.reject(new Error('ipset gone'))), /ipset gone/, 'a failed read is reported');
  n.remove(cidr('10.7.0.0/16'));
  t.equal(n.size, 3, 'and the list works on after it');
});
