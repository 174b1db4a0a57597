// Networks the admin banned with `sipwall ban NET`, as this run knows them.
//
// A network ban lives in the kernel set only: the engine keys sources, not
// networks (inline-control.ts). Listing it used to mean reading the whole
// kernel set back (`ipset list`), which at a full set (262,144 bans) held the
// verdict loop for over half a second per `sipwall bans`, and past about
// 125,000 entries failed outright. So the run keeps its own list: filled by
// the admin's bans, emptied by their unbans and by the trust of a wider
// network, seeded at start from what a crashed run left in a kept set, and
// used to put the networks back when the rules watchdog recreates a set.
//
// The kernel's own timeout stays the authority: an entry here is shown only
// until its end, and dropped then.

import { CidrSet, formatIp, parseCidr, type ParsedCidr } from '../packet/address.js';

/** The one spelling of a network: host bits cleared, IPv6 per RFC 5952 (what `ipset list` prints too). */
export function networkText(c: ParsedCidr): string {
  return `${formatIp(c.bytes, 0, c.family)}/${c.prefix}`;
}

export class NetworkBans {
  /** Network text to the end of its ban (ms), oldest first. */
  readonly #until = new Map<string, number>();

  get size(): number {
    return this.#until.size;
  }

  add(c: ParsedCidr, untilMs: number): void {
    const key = networkText(c);
    this.#until.delete(key); // re-banned: now the newest
    this.#until.set(key, untilMs);
  }

  remove(c: ParsedCidr): boolean {
    return this.#until.delete(networkText(c));
  }

  /** Drops every network inside `c` (the trust of a wider network lifts them); returns their texts. */
  removeWithin(c: ParsedCidr): string[] {
    const within = new CidrSet();
    within.add(c);
    const gone: string[] = [];
    for (const key of this.#until.keys()) {
      const n = parseCidr(key);
      if (n !== null && n.family === c.family && n.prefix >= c.prefix && within.has(n.bytes, 0, n.family)) gone.push(key);
    }
    for (const key of gone) this.#until.delete(key);
    return gone;
  }

  /** Bans not over at `now`, newest first; ended ones are forgotten. */
  active(now: number): Array<{ cidr: string; until: number }> {
    const out: Array<{ cidr: string; until: number }> = [];
    for (const [cidr, until] of this.#until) {
      if (until > now) out.push({ cidr, until });
      else this.#until.delete(cidr);
    }
    return out.reverse();
  }
}
