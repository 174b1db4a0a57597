// 32-bit FNV-1a over byte ranges: the numeric identity of a Call-ID, a Via
// branch or a user name, so per-source tables hold numbers, not strings
// built per packet. A collision can only merge two transactions or two
// users of one source (a miscount), never let a packet through unjudged.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export const HASH_SEED = FNV_OFFSET;

/** Folds buf[s, e) into h (start with HASH_SEED). Case-sensitive. */
export function hashBytes(buf: Uint8Array, s: number, e: number, h: number = FNV_OFFSET): number {
  for (let p = s; p < e; p++) h = Math.imul(h ^ buf[p]!, FNV_PRIME);
  return h >>> 0;
}

/** Folds a 32-bit number into h. */
export function hashU32(n: number, h: number): number {
  h = Math.imul(h ^ (n & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((n >>> 8) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((n >>> 16) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ (n >>> 24), FNV_PRIME);
  return h >>> 0;
}
