/**
 * A push target's credentials on each attempt (SPEC.md "Targets: headers,
 * auth, TLS"). Bearer and basic are a fixed Authorization value. OAuth2 is the
 * client-credentials grant: the token endpoint is asked through the same
 * sender as the targets (address guard on the resolved address, no redirects,
 * the attempt's timeout), once however many attempts are waiting for a
 * token, and the token is kept until shortly before it expires. A 401 from
 * the target means the token was revoked or expired early: it is dropped, a
 * new one is fetched (once, shared by every attempt that met the old one) and
 * the request is sent once more, within the same attempt. A token endpoint
 * that fails fails the attempt with an `oauth2: …` error, which shows neither
 * the client secret nor the endpoint's reply (only its `error` code).
 */
import { rootCertificates } from "node:tls";
import type { TargetAuth, TargetConfig, TargetTls } from "../config/types.ts";
import type { SendResult } from "../core/delivery-outcome.ts";
import { redactedValue } from "../core/header-mask.ts";
import type { SendReport, Sender, SendTls } from "./sender.ts";

/** One request to the target carrying `authorization` (null: none), within `timeoutMs`. */
export type Post = (authorization: string | null, timeoutMs: number) => Promise<SendReport>;

/** Sends an attempt with its target's credentials. */
export interface TargetAuthorizer {
  /** Sends through `post` with the target's Authorization, fetching an OAuth2 token when needed, all within `timeoutMs`. */
  send(post: Post, timeoutMs: number): Promise<SendReport>;
}

// A token reply is read whole (a JWT with many claims passes 4 KB), up to this.
const TOKEN_REPLY_BYTES = 64 * 1024;
// A token is fetched again this long before it expires (or a tenth of its life, if shorter).
const REFRESH_BEFORE_MS = 30_000;

/**
 * The credentials of `target` (its `auth`), with their OAuth2 token cache.
 *
 * @example createTargetAuth(target, { sender, clock: Date.now }).send((authorization, ms) => sender({ …, timeoutMs: ms }), target.timeoutMs)
 */
export function createTargetAuth(target: TargetConfig, opts: { sender: Sender; clock: () => number }): TargetAuthorizer {
  const auth = target.auth;
  if (auth === null || auth.kind !== "oauth2") {
    const value = auth === null ? null : fixedAuthorization(auth);
    return { send: (post, timeoutMs) => post(value, timeoutMs) };
  }
  const tokens = oauth2Tokens(auth, target, opts);
  return {
    async send(post, timeoutMs) {
      const started = performance.now();
      const left = () => Math.round(timeoutMs - (performance.now() - started));
      const finish = (result: SendResult, report?: SendReport): SendReport => ({
        result,
        durationMs: Math.round(performance.now() - started),
        excerpt: report?.excerpt ?? null,
      });
      const attempt = async (): Promise<SendReport & { token?: string }> => {
        const token = await tokens.get(left());
        if (!token.ok) return finish({ kind: "auth-failed", message: token.error });
        if (left() <= 0) return finish({ kind: "timeout", phase: "total", afterMs: timeoutMs });
        return { ...(await post(`Bearer ${token.value}`, left())), token: token.value };
      };
      const first = await attempt();
      if (first.token === undefined || !isUnauthorized(first.result)) return finish(first.result, first);
      tokens.forget(first.token);
      const second = await attempt();
      // Said in the error: the target refused a token fetched for this very attempt, so the grant
      // (client, scope, audience) is what to look at, not an expiry.
      if (second.token !== undefined && second.token !== first.token && isUnauthorized(second.result))
        return finish({ ...second.result, note: "a freshly fetched OAuth2 token was refused too" }, second);
      return finish(second.result, second);
    },
  };
}

// The Authorization value of bearer and basic auth: the same on every attempt.
function fixedAuthorization(auth: Exclude<TargetAuth, { kind: "oauth2" }>): string {
  return auth.kind === "bearer" ? `Bearer ${auth.token}` : `Basic ${btoa(utf8Binary(`${auth.username}:${auth.password}`))}`;
}

/** The Authorization header of `auth` as recorded with an attempt: the scheme kept, the credential masked (null: no auth). */
export function maskedAuthorization(auth: TargetAuth | null): string | null {
  if (auth === null) return null;
  // An OAuth2 token changes from one fetch to the next; its length says nothing useful.
  if (auth.kind === "oauth2") return "Bearer [redacted: OAuth2 access token]";
  const [scheme, credential] = fixedAuthorization(auth).split(" ") as [string, string];
  return `${scheme} ${redactedValue(credential)}`;
}

const isUnauthorized = (r: SendResult): r is Extract<SendResult, { kind: "response" }> => r.kind === "response" && r.status === 401;

type TokenResult = { ok: true; value: string } | { ok: false; error: string };

/** The token cache of one target: one fetch at a time, kept until shortly before it expires. */
function oauth2Tokens(auth: Extract<TargetAuth, { kind: "oauth2" }>, target: TargetConfig, opts: { sender: Sender; clock: () => number }) {
  let cached: { value: string; refreshAt: number } | null = null;
  let pending: Promise<TokenResult> | null = null;
  const grant = new URLSearchParams({ grant_type: "client_credentials", ...(auth.scope === null ? {} : { scope: auth.scope }) });
  const body = new TextEncoder().encode(grant.toString());
  const headers: [string, string][] = [
    ["content-type", "application/x-www-form-urlencoded"],
    ["accept", "application/json"],
    // RFC 6749 §2.3.1: HTTP Basic over the form-encoded id and secret, which every server must accept.
    ["authorization", `Basic ${btoa(`${formEncode(auth.clientId)}:${formEncode(auth.clientSecret)}`)}`],
  ];
  const tls = sendTls(target.tls, true);

  async function fetchToken(timeoutMs: number): Promise<TokenResult> {
    const report = await opts.sender({
      url: auth.tokenUrl,
      body,
      headers,
      timeoutMs,
      connectTimeoutMs: target.connectTimeoutMs,
      tls,
      replyBytes: TOKEN_REPLY_BYTES,
    });
    const issued = readTokenReply(report);
    if (!issued.ok) return { ok: false, error: `oauth2: ${issued.error}` };
    const lifetimeMs = issued.expiresInSec === null ? Infinity : issued.expiresInSec * 1000;
    cached = { value: issued.token, refreshAt: opts.clock() + lifetimeMs - Math.min(REFRESH_BEFORE_MS, lifetimeMs / 10) };
    return { ok: true, value: issued.token };
  }

  return {
    /** The cached token, or the one being fetched (a single fetch for every attempt waiting). */
    get(timeoutMs: number): Promise<TokenResult> {
      if (cached !== null && opts.clock() < cached.refreshAt) return Promise.resolve({ ok: true, value: cached.value });
      pending ??= fetchToken(timeoutMs).finally(() => {
        pending = null;
      });
      return pending;
    },
    /** The target refused `value`: the next get() fetches a new one (unless one newer is already cached). */
    forget(value: string): void {
      if (cached?.value === value) cached = null;
    },
  };
}

/**
 * A target's `tls` as the sender takes it. `withSystemCAs`: for its token
 * endpoint, often public (an IdP) while the target is behind a private CA,
 * the system's CAs are trusted beside the target's; it sees the client
 * certificate if it asks for one (RFC 8705).
 */
export function sendTls(t: TargetTls | null, withSystemCAs = false): SendTls | undefined {
  if (t === null) return undefined;
  const ca = t.ca === null ? {} : { ca: withSystemCAs ? [...rootCertificates, t.ca] : t.ca };
  return { ...ca, ...(t.cert === null ? {} : { cert: t.cert }), ...(t.key === null ? {} : { key: t.key }) };
}

type TokenReply = { ok: true; token: string; expiresInSec: number | null } | { ok: false; error: string };

/** Reads the token endpoint's answer (RFC 6749 §5.1, §5.2) into a token or a short reason. */
function readTokenReply(report: SendReport): TokenReply {
  const r = report.result;
  if (r.kind === "forbidden-address") return { ok: false, error: `token endpoint resolved to forbidden address ${r.address}; refused` };
  if (r.kind === "timeout") return { ok: false, error: `token endpoint: ${r.phase === "connect" ? "connect timeout" : "timeout"} after ${r.afterMs}ms` };
  if (r.kind === "network") return { ok: false, error: `token endpoint: network error: ${r.message}` };
  if (r.kind !== "response") return { ok: false, error: "token endpoint: no answer" };
  let json: unknown;
  try {
    json = JSON.parse(report.excerpt ?? "");
  } catch {
    json = undefined;
  }
  const reply = typeof json === "object" && json !== null ? (json as Record<string, unknown>) : null;
  if (r.status < 200 || r.status > 299) {
    // Only the error code (a short token by the RFC): a description may quote anything.
    const code = typeof reply?.error === "string" && /^[\w.-]{1,64}$/.test(reply.error) ? ` (${reply.error})` : "";
    return { ok: false, error: `token endpoint answered HTTP ${r.status}${code}` };
  }
  if (reply === null) return { ok: false, error: "token endpoint reply is not JSON" };
  const token = reply.access_token;
  if (typeof token !== "string" || token === "") return { ok: false, error: "token endpoint reply has no access_token" };
  // Visible ASCII only: anything else cannot go into a header (or would split it).
  if (!/^[\x21-\x7e]+$/.test(token)) return { ok: false, error: "token endpoint issued an access_token that is not a valid header value" };
  const type = reply.token_type;
  if (type !== undefined && (typeof type !== "string" || type.toLowerCase() !== "bearer")) {
    const shown = typeof type === "string" && /^[\w.-]{1,32}$/.test(type) ? `a "${type}"` : "a non-Bearer";
    return { ok: false, error: `token endpoint issued ${shown} token; only Bearer is supported` };
  }
  const expiresIn = Number(reply.expires_in);
  return { ok: true, token, expiresInSec: reply.expires_in !== undefined && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : null };
}

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 asks for the client id and secret. */
const formEncode = (s: string) => new URLSearchParams([["", s]]).toString().slice(1);

/** A string's UTF-8 bytes as a binary string, which btoa takes (RFC 7617 charset UTF-8). */
const utf8Binary = (s: string) => String.fromCharCode(...new TextEncoder().encode(s));
