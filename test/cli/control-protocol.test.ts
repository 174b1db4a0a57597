// What sipwall itself refuses on the control socket, whatever client sent it:
// the same targets the command refuses before sending (control.test.ts).

import t from 'tap';
import { requestProblem } from '../../src/cli/control-protocol.js';

t.test('ban, unban and trust targets are checked on receipt', async (t) => {
  const ok = (v: unknown) => t.equal(requestProblem(v), null, JSON.stringify(v));
  ok({ cmd: 'ban', target: '192.0.2.1', seconds: 60, reason: 'x' });
  ok({ cmd: 'trust', target: '2001:db8::/64' });
  ok({ cmd: 'unban', target: '0.0.0.0/0' });
  ok({ cmd: 'unban', target: '::/0' });
  t.match(requestProblem({ cmd: 'ban', target: '::ffff:192.0.2.1', seconds: 60, reason: 'x' }), /IPv4-mapped.*give 192\.0\.2\.1$/);
  t.match(requestProblem({ cmd: 'unban', target: '::ffff:10.0.0.0/104' }), /IPv4-mapped.*give 10\.0\.0\.0\/8$/);
  t.match(requestProblem({ cmd: 'trust', target: '0.0.0.0/0' }), /every address/);
  t.match(requestProblem({ cmd: 'ban', target: '::/0', seconds: 60, reason: 'x' }), /every address/);
  t.match(requestProblem({ cmd: 'trust', target: 'pbx.example.com' }), /not an IP address or CIDR/);
  t.match(requestProblem({ cmd: 'trust', target: 7 }), /target must be an address or CIDR/);
});
