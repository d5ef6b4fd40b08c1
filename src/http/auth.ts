/**
 * Admin authentication. The API takes `Authorization: Bearer <admin.token>`;
 * the UI logs in once with the token and gets a session cookie holding a
 * random session id, which this process keeps in a bounded table until the
 * session expires or logs out (so logout ends it for good, even for a copy of
 * the cookie; a restart ends every session). Cookie-borne state changes must
 * come from our own origin (CSRF); failed token attempts (bearer and login)
 * are rate-limited per client address (failed-auth-limiter.ts). Without a
 * token (loopback only, enforced by config) everything is open, but the Host
 * must be a loopback name so a DNS-rebinding page cannot drive the UI.
 */
import { createHash, randomBytes } from "node:crypto";
import { secretsEqual } from "../core/verify/hmac.ts";
import type { FailedAuthLimiter } from "./failed-auth-limiter.ts";

// One comparison of secrets for the whole relay (a provider's, the admin's, a listen target's).
export { secretsEqual };

/** Name of the UI's session cookie. */
export const SESSION_COOKIE = "hookrelay_session";

/** How a request proved who it is. */
export type Principal = "bearer" | "session" | "open";

/** Who a request is: a principal, or refused (with a wait when its address is shut out for failed tokens). */
export type Identity = { ok: true; who: Principal } | { ok: false; retryAfterSec: number };

/** Token, clock and limits of an AdminAuth. */
export interface AdminAuthOptions {
  token: string | null;
  nowMs?: () => number;
  sessionTtlMs?: number;
  /** Sessions kept at once; past it the oldest is ended. */
  maxSessions?: number;
  /** Counts failed tokens per address; without one, nothing is limited. */
  limiter?: FailedAuthLimiter;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest();
// The admin token's failures, as the limiter tells them from a listen token's.
const ADMIN_SCOPE = "admin";


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

/** Session table, bearer checks and the failed-token limiter for one process. */
export class AdminAuth {
  #token: string | null;
  readonly #nowMs: () => number;
  readonly #ttlMs: number;
  readonly #maxSessions: number;
  readonly #limiter: FailedAuthLimiter | null;
  // sha256(session id) → expiry, in order of issue; only the hash is kept, so the table holds nothing a cookie can be rebuilt from.
  readonly #sessions = new Map<string, number>();

  constructor(opts: AdminAuthOptions) {
    this.#token = opts.token;
    this.#nowMs = opts.nowMs ?? Date.now;
    this.#ttlMs = opts.sessionTtlMs ?? 12 * 3600_000;
    this.#maxSessions = opts.maxSessions ?? 10_000;
    this.#limiter = opts.limiter ?? null;
  }

  /**
   * A reloaded config's admin token. A changed token ends every session: they
   * were opened with the old one, and a token is rotated because it leaked.
   */
  setToken(token: string | null): void {
    if (token === this.#token) return;
    this.#token = token;
    this.#sessions.clear();
  }

  /** False when no token is configured (loopback-only mode). */
  get required(): boolean {
    return this.#token !== null;
  }

  /** Who the request from client address `addr` is; a wrong bearer token counts against `addr`. */
  identify(request: Request, addr: string): Identity {
    if (this.#token === null) {
      const host = request.headers.get("host") ?? new URL(request.url).host;
      return LOOPBACK_HOST.test(host) ? { ok: true, who: "open" } : { ok: false, retryAfterSec: 0 };
    }
    const auth = request.headers.get("authorization");
    if (auth !== null) {
      const wait = this.retryAfterSec(addr);
      if (wait > 0) return { ok: false, retryAfterSec: wait };
      const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
      return this.checkToken(m?.[1] ?? "", addr) ? { ok: true, who: "bearer" } : { ok: false, retryAfterSec: 0 };
    }
    // Not limited: a session id is not guessable, and an expired cookie is a normal sight.
    const session = this.verifySession(readCookie(request.headers.get("cookie"), SESSION_COOKIE));
    return session ? { ok: true, who: "session" } : { ok: false, retryAfterSec: 0 };
  }

  /**
   * True when `candidate` is the admin token and `addr` is not shut out; a
   * wrong one counts against `addr`. While shut out the token is not even
   * compared, so the answer cannot tell a right guess from a wrong one.
   */
  checkToken(candidate: string, addr: string): boolean {
    if (this.#token === null || this.retryAfterSec(addr) > 0) return false;
    if (secretsEqual(candidate, this.#token)) return true;
    this.#limiter?.recordFailure(addr, ADMIN_SCOPE);
    return false;
  }

  /**
   * The login form's check: as checkToken, and a right token clears the
   * address's failures (see FailedAuthLimiter.recordSuccess; a bearer token,
   * sent with every request, does not).
   */
  signIn(candidate: string, addr: string): boolean {
    const ok = this.checkToken(candidate, addr);
    if (ok) this.#limiter?.recordSuccess(addr, ADMIN_SCOPE);
    return ok;
  }

  /** Seconds until `addr` may try a token again, or 0. */
  retryAfterSec(addr: string): number {
    return this.#limiter?.retryAfterSec(addr) ?? 0;
  }

  /** A new session id, valid for the session lifetime or until ended. */
  issueSession(): string {
    const now = this.#nowMs();
    for (const [key, expiry] of this.#sessions) {
      if (expiry > now && this.#sessions.size < this.#maxSessions) break;
      this.#sessions.delete(key);
    }
    const id = randomBytes(32).toString("base64url");
    this.#sessions.set(sessionKey(id), now + this.#ttlMs);
    return id;
  }

  /** True for a session this process issued that has neither expired nor ended. */
  verifySession(value: string | null): boolean {
    if (!value) return false;
    const expiry = this.#sessions.get(sessionKey(value));
    return expiry !== undefined && expiry > this.#nowMs();
  }

  /** Ends a session: its cookie, and every copy of it, is refused from now on. */
  endSession(value: string | null): void {
    if (value) this.#sessions.delete(sessionKey(value));
  }

  /** Set-Cookie value for a fresh session. */
  sessionCookie(secure: boolean): string {
    const attrs = `Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.#ttlMs / 1000)}${secure ? "; Secure" : ""}`;
    return `${SESSION_COOKIE}=${this.issueSession()}; ${attrs}`;
  }
}

const sessionKey = (id: string) => sha256(id).toString("base64url");

/** Set-Cookie value that removes the session. */
export const CLEAR_SESSION_COOKIE = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
