/**
 * Prefixed, time-sortable ids (`evt_01J…`): 48-bit millisecond time then 80
 * random bits, Crockford base32. Sorting ids sorts by creation time, which the
 * store uses for cursor paging and ordered delivery.
 */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type IdPrefix = "evt" | "dlv" | "att" | "rej" | "lease" | "msg" | "job";

/** Encodes `nowMs` and 10 random bytes as `<prefix>_<26 chars>`. */
export function makeId(prefix: IdPrefix, nowMs: number, random: Uint8Array): string {
  let out = "";
  let t = Math.max(0, Math.floor(nowMs));
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  // 80 bits → 16 chars of 5 bits.
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | (random[i] ?? 0);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return `${prefix}_${out}`;
}

/** Millisecond time encoded in an id made by `makeId`, or NaN. */
export function idTimeMs(id: string): number {
  const body = id.slice(id.indexOf("_") + 1, id.indexOf("_") + 11);
  let t = 0;
  for (const ch of body) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return Number.NaN;
    t = t * 32 + v;
  }
  return t;
}
