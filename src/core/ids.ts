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

/**
 * Makes ids of `prefix` that sort in the order they are made, not only by
 * their millisecond: an id made within the millisecond of the one before
 * takes that one's random part plus one (ULID's monotonic mode). Ingest
 * stores events in the order it makes their ids, so within one process an
 * event id's order is its receive order — the order the events list, a bulk
 * job's walk and so an ordered target's redelivered line go by. A clock
 * stepped back starts from fresh random bits, as does the (never seen) end of
 * a millisecond's 80 bits.
 */
export function monotonicIds(prefix: IdPrefix, random: () => Uint8Array = () => crypto.getRandomValues(new Uint8Array(10))): (nowMs: number) => string {
  let lastMs = Number.NaN;
  let last = new Uint8Array(10);
  return (nowMs) => {
    const ms = Math.max(0, Math.floor(nowMs));
    if (ms !== lastMs || !increment(last)) {
      lastMs = ms;
      last = Uint8Array.from(random());
    }
    return makeId(prefix, ms, last);
  };
}

/** Adds one to a big-endian number in place; false when it overflowed (it is then all zeros). */
function increment(bytes: Uint8Array): boolean {
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 255) {
      bytes[i]!++;
      return true;
    }
    bytes[i] = 0;
  }
  return false;
}

/** The process's event ids: in the order they were made (monotonicIds). */
export const nextEventId = monotonicIds("evt");

/** The smallest id of `prefix` made at `ms`: ids sort by their time, so `id >= idFloor(p, t)` is "made at t or later". */
export function idFloor(prefix: IdPrefix, ms: number): string {
  return makeId(prefix, Math.max(0, ms), new Uint8Array(10));
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
