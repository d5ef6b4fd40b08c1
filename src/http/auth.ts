/**
 * Admin authentication. The API takes `Authorization: Bearer <admin.token>`;
 * the UI logs in once with the token and gets a session cookie holding only
 * an expiry and its HMAC under a key derived from the admin token (the token
 * itself never leaves the server; sessions survive a restart and work on
 * every process sharing the token; changing the token ends them). Cookie-borne
 * state changes must come from our own origin (CSRF); failed logins are
 * rate-limited per remote address. Without a token (loopback only, enforced
 * by config) everything is open, but the Host must be a loopback name so a
 * DNS-rebinding page cannot drive the UI.
 */
import { createHmac, randomBytes, timingSafeEqual, createHash } from "node:crypto";

/** Name of the UI's session cookie. */
export const SESSION_COOKIE = "hookrelay_session";

/** How a request proved who it is. */
export type Principal = "bearer" | "session" | "open";

/** Token, clock and limits of an AdminAuth. */
export interface AdminAuthOptions {
  token: string | null;
  nowMs?: () => number;
  sessionTtlMs?: number;
  /** Failed logins allowed per address within `failureWindowMs`. */
  maxFailures?: number;
  failureWindowMs?: number;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest();

/** Compares two secrets in constant time (hashing first equalises the lengths). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** Value of one cookie from a Cookie header, or null. */
export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;

/**
 * True when a state-changing request was sent by a page of this origin.
 * Sec-Fetch-Site is authoritative when present; otherwise Origin must name
 * this scheme, host and port (an https page is another origin than the http
 * listener on the same port). A request carrying neither is refused: every
 * current browser sends one of them on a POST, so only a forged or ancient
 * client lacks both.
 */
export function isSameOrigin(request: Request): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null) return site === "same-origin";
  const origin = request.headers.get("origin");
  if (origin === null || origin === "null") return false;
  const host = request.headers.get("host") ?? new URL(request.url).host;
  const scheme = servedOverHttps(request) ? "https:" : "http:";
  try {
    // Through URL so that default ports and letter case compare equal.
    return new URL(origin).origin === new URL(`${scheme}//${host}`).origin;
  } catch {
    return false;
  }
}

/**
 * https directly, or behind a TLS-terminating proxy that says so. A cross-site
 * page cannot set X-Forwarded-Proto (not a CORS-safelisted header), so trusting it
 * opens no CSRF path.
 */
export function servedOverHttps(request: Request): boolean {
  return new URL(request.url).protocol === "https:" || request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim() === "https";
}

/** Session cookies, bearer checks and the failed-login limiter for one process. */
export class AdminAuth {
  readonly #token: string | null;
  readonly #key: Buffer;
  readonly #nowMs: () => number;
  readonly #ttlMs: number;
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #failures = new Map<string, { startMs: number; count: number }>();

  constructor(opts: AdminAuthOptions) {
    this.#token = opts.token;
    // Derived, not random: a restart or a second process behind the same address keeps sessions valid.
    this.#key = opts.token === null ? randomBytes(32) : createHmac("sha256", opts.token).update("hookrelay session key v1").digest();
    this.#nowMs = opts.nowMs ?? Date.now;
    this.#ttlMs = opts.sessionTtlMs ?? 12 * 3600_000;
    this.#maxFailures = opts.maxFailures ?? 5;
    this.#windowMs = opts.failureWindowMs ?? 15 * 60_000;
  }

  /** False when no token is configured (loopback-only mode). */
  get required(): boolean {
    return this.#token !== null;
  }

  /** Who the request is, or null when it must be refused. */
  identify(request: Request): Principal | null {
    if (this.#token === null) {
      const host = request.headers.get("host") ?? new URL(request.url).host;
      return LOOPBACK_HOST.test(host) ? "open" : null;
    }
    const auth = request.headers.get("authorization");
    if (auth !== null) {
      const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
      return m && secretsEqual(m[1]!, this.#token) ? "bearer" : null;
    }
    return this.verifySession(readCookie(request.headers.get("cookie"), SESSION_COOKIE)) ? "session" : null;
  }

  /** True when `candidate` is the admin token. */
  checkToken(candidate: string): boolean {
    return this.#token !== null && secretsEqual(candidate, this.#token);
  }

  /** A new session value: `<expiryMs>.<hmac>`. */
  issueSession(): string {
    const expiry = String(this.#nowMs() + this.#ttlMs);
    return `${expiry}.${this.#sign(expiry)}`;
  }

  /** True for an unexpired session value signed by this process. */
  verifySession(value: string | null): boolean {
    if (!value) return false;
    const dot = value.indexOf(".");
    const expiry = value.slice(0, dot);
    if (dot <= 0 || !/^\d+$/.test(expiry) || Number(expiry) <= this.#nowMs()) return false;
    const given = Buffer.from(value.slice(dot + 1));
    const want = Buffer.from(this.#sign(expiry));
    return given.length === want.length && timingSafeEqual(given, want);
  }

  /** Set-Cookie value for a fresh session. */
  sessionCookie(secure: boolean): string {
    const attrs = `Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.#ttlMs / 1000)}${secure ? "; Secure" : ""}`;
    return `${SESSION_COOKIE}=${this.issueSession()}; ${attrs}`;
  }

  /** Seconds until `addr` may try again, or 0 when a login attempt is allowed now. */
  loginRetryAfterSec(addr: string): number {
    const f = this.#failures.get(addr);
    if (!f) return 0;
    const left = f.startMs + this.#windowMs - this.#nowMs();
    if (left <= 0) {
      this.#failures.delete(addr);
      return 0;
    }
    return f.count >= this.#maxFailures ? Math.ceil(left / 1000) : 0;
  }

  /** Counts a failed login against `addr`. */
  recordLoginFailure(addr: string): void {
    const now = this.#nowMs();
    const f = this.#failures.get(addr);
    if (f && now - f.startMs < this.#windowMs) f.count++;
    else {
      // Bound memory under a spray of addresses: forget the oldest entry.
      if (this.#failures.size >= 10_000) this.#failures.delete(this.#failures.keys().next().value!);
      this.#failures.set(addr, { startMs: now, count: 1 });
    }
  }

  #sign(expiry: string): string {
    return createHmac("sha256", this.#key).update(`session:${expiry}`).digest("base64url");
  }
}

/** Set-Cookie value that removes the session. */
export const CLEAR_SESSION_COOKIE = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
