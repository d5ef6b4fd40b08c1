/**
 * Slows down token guessing: per client address, a few failed token attempts
 * (admin bearer, login form, listen token) are free, then each further
 * failure shuts the address out for a back-off that doubles up to a cap well
 * under a minute. While shut out, attempts are not checked at all — a right
 * token gets the same 429 as a wrong one, otherwise the answer would tell
 * the guesser which guess was right. The owner of a token is back in within
 * the cap; a guesser gets about two tries a minute. A sign-in with the right
 * token (the login form, a listen connection) clears its address's failures
 * when every one of them was a try at that same token (its scope: "admin",
 * or the listen target's name), so that an operator's typo minutes after a
 * streak of wrong tokens is one failure, not the next back-off of up to 30 s
 * — while the holder of one listen token cannot clear a streak of guesses at
 * another's by signing in between them. Memory is bounded: an
 * address quiet for `forgetAfterMs` is forgotten, and the table holds at most
 * `maxAddresses` (the least recently failing go first).
 */
import { parseIPv6 } from "../core/address-guard.ts";
import { requestClientAddress, type RequestIPSource } from "./client-address.ts";
import { HttpError } from "./http-error.ts";

/** How many failures are free, how the back-off grows, and how much is remembered. */
export interface FailedAuthPolicy {
  freeFailures: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  forgetAfterMs: number;
  maxAddresses: number;
}

/** 5 free failures, then 1 s, 2 s, 4 s … capped at 30 s; forgotten after 15 quiet minutes; 10,000 addresses. */
export const DEFAULT_FAILED_AUTH_POLICY: FailedAuthPolicy = {
  freeFailures: 5,
  baseBackoffMs: 1_000,
  maxBackoffMs: 30_000,
  forgetAfterMs: 15 * 60_000,
  maxAddresses: 10_000,
};

interface Bucket {
  failures: number;
  /** Which token the failures tried for; null once they tried for more than one. */
  scope: string | null;
  lastFailureMs: number;
  blockedUntilMs: number;
}

/** Failed token attempts per client address, with their back-off. */
export class FailedAuthLimiter {
  // Kept in order of last failure, so the quiet entries are always at the front.
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    private readonly nowMs: () => number,
    private readonly policy: FailedAuthPolicy = DEFAULT_FAILED_AUTH_POLICY,
    /**
     * Told when an address is first shut out in a streak of failures (once per
     * streak, so a guesser costs a line per address, not per guess): an
     * operator locked out by a client still on an old token can see which.
     */
    private readonly onShutOut: (addr: string, failures: number) => void = () => {},
  ) {}

  /** Addresses currently remembered. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Seconds until `addr` may try a token again, or 0 when it may now. */
  retryAfterSec(addr: string): number {
    this.#forgetQuiet();
    const b = this.#buckets.get(addr);
    const leftMs = b ? b.blockedUntilMs - this.nowMs() : 0;
    return leftMs > 0 ? Math.ceil(leftMs / 1000) : 0;
  }

  /** Counts a failed attempt by `addr` at the token of `scope`; past the free ones, it starts the next back-off. */
  recordFailure(addr: string, scope: string): void {
    const now = this.nowMs();
    this.#forgetQuiet();
    const b = this.#buckets.get(addr) ?? { failures: 0, scope, lastFailureMs: now, blockedUntilMs: 0 };
    this.#buckets.delete(addr);
    if (this.#buckets.size >= this.policy.maxAddresses) this.#buckets.delete(this.#buckets.keys().next().value!);
    if (b.scope !== scope) b.scope = null;
    b.failures++;
    b.lastFailureMs = now;
    const over = b.failures - this.policy.freeFailures;
    if (over >= 0) b.blockedUntilMs = now + Math.min(this.policy.baseBackoffMs * 2 ** over, this.policy.maxBackoffMs);
    this.#buckets.set(addr, b);
    if (over === 0) this.onShutOut(addr, b.failures);
  }

  /**
   * A sign-in with the right token of `scope` from `addr`: its failures so
   * far are forgotten when all were tries at that token. Not for a bearer
   * token, which a client sends with every request: a guesser on the same
   * address would get five free tries between any two of them.
   */
  recordSuccess(addr: string, scope: string): void {
    if (this.#buckets.get(addr)?.scope === scope) this.#buckets.delete(addr);
  }

  #forgetQuiet(): void {
    const cutoff = this.nowMs() - this.policy.forgetAfterMs;
    for (const [addr, b] of this.#buckets) {
      if (b.lastFailureMs > cutoff) return;
      this.#buckets.delete(addr);
    }
  }
}

/**
 * The limiter's key for a client address: IPv4 as is (also when IPv4-mapped),
 * IPv6 by its /64, since one host is commonly given a whole /64 to pick from.
 */
export function clientKey(address: string | null | undefined): string {
  if (!address) return "unknown";
  const g = parseIPv6(address);
  if (g === null) return address;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(":")}::/64`;
}

/** The limiter's key for the client that sent `request` (behind trusted proxies, the forwarded client; "unknown" in memory). */
export function requestClientKey(server: RequestIPSource | null | undefined, request: Request): string {
  return clientKey(requestClientAddress(server, request));
}

/** The 429 for an address shut out after failed token attempts. */
export function tooManyAttempts(retryAfterSec: number): HttpError {
  return new HttpError(429, "too_many_attempts", `too many failed token attempts from this address; retry in ${retryAfterSec} s`, {
    "retry-after": String(retryAfterSec),
  });
}
