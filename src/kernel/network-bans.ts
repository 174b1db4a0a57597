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

import { formatIp, insideOf, parseCidr, type ParsedCidr } from '../packet/address.js';

/** The one spelling of a network: host bits cleared, IPv6 per RFC 5952 (what `ipset list` prints too). */
export function networkText(c: ParsedCidr): string {
  return `${formatIp(c.bytes, 0, c.family)}/${c.prefix}`;
}

export class NetworkBans {
  /** Network text to the end of its ban (ms), oldest first. */
  readonly #until = new Map<string, number>();
  /** While the kernel set is read at start: what the admin touched meanwhile, which the read must not bring back. */
  #seeding: { keys: Set<string>; within: Array<(n: ParsedCidr) => boolean> } | null = null;

  get size(): number {
    return this.#until.size;
  }

  add(c: ParsedCidr, untilMs: number): void {
    const key = networkText(c);
    this.#seeding?.keys.add(key);
    this.#until.delete(key); // re-banned: now the newest
    this.#until.set(key, untilMs);
  }

  remove(c: ParsedCidr): boolean {
    const key = networkText(c);
    this.#seeding?.keys.add(key);
    return this.#until.delete(key);
  }

  /** Drops every network inside `c` (the trust of a wider network lifts them); returns their texts. */
  removeWithin(c: ParsedCidr): string[] {
    const inside = insideOf(c);
    this.#seeding?.within.push(inside);
    const gone: string[] = [];
    for (const key of this.#until.keys()) if (inside(parseCidr(key))) gone.push(key);
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

  /**
   * Reads networks back from the kernel set (a crashed run's): `visit`
   * each with seed(), and the admin's bans, unbans and trusts made while
   * `read` runs win over what it brings (an unban whose line the read had
   * already passed would otherwise come back, and be refilled).
   */
  async seedFrom(read: (seed: (c: ParsedCidr, untilMs: number) => void) => Promise<unknown>): Promise<void> {
    const seeding = { keys: new Set<string>(), within: [] as Array<(n: ParsedCidr) => boolean> };
    this.#seeding = seeding;
    try {
      await read((c, untilMs) => {
        const key = networkText(c);
        if (seeding.keys.has(key) || seeding.within.some((inside) => inside(c)) || this.#until.has(key)) return;
        this.#until.set(key, untilMs);
      });
    } finally {
      this.#seeding = null;
    }
  }
}
