import type { InboundRequest, VerifySpec } from "../types.ts";
import { secretsEqual } from "./hmac.ts";

/** A response the relay sends instead of storing the request as an event. */
export interface HandshakeResponse {
  status: number;
  contentType: string;
  body: string;
  /** Set when the handshake was refused: the rejection's reason code (recorded like a bad signature). */
  refused?: string;
}

/**
 * Answer a provider handshake, or null when the request is an ordinary event.
 * Call only after the request verified: Slack signs its `url_verification`
 * request like any other, and we echo the challenge as plain text.
 *
 * @example answerHandshake(slackSpec, req) // { status: 200, contentType: "text/plain", body: "x" }
 */
export function answerHandshake(spec: VerifySpec, req: InboundRequest): HandshakeResponse | null {
  if (spec.kind !== "preset" || spec.preset !== "slack") return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(req.body));
  } catch {
    return null; // slash commands and interactivity are form bodies, never handshakes
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const { type, challenge } = parsed as Record<string, unknown>;
  if (type !== "url_verification" || typeof challenge !== "string") return null;
  return { status: 200, contentType: "text/plain", body: challenge };
}

/** Challenges longer than this are not echoed (they are tokens, not documents). */
const MAX_CHALLENGE = 512;

/**
 * Answer a GET verification challenge on a source's endpoint, or null:
 * - `?hub.mode=subscribe&hub.challenge=X&hub.verify_token=T` (WebSub, Meta):
 *   echoed only when T is the source's `verify_token` (constant-time), or,
 *   without one, one of its verify secrets (which then travels in a URL:
 *   `verify_token` keeps the signing secret out of every access log);
 * - `?challenge=X` (Dropbox-style echo): echoed as inert text.
 * The echo is plain text (the controller adds `nosniff`) and never stored.
 *
 * @example answerGetChallenge(spec, new URLSearchParams("challenge=abc")) // { status: 200, …, body: "abc" }
 */
export function answerGetChallenge(spec: VerifySpec, query: URLSearchParams, verifyToken?: string): HandshakeResponse | null {
  const hub = query.get("hub.challenge");
  if (hub !== null) {
    const token = query.get("hub.verify_token") ?? "";
    const secrets = verifyToken !== undefined ? [verifyToken] : "secrets" in spec ? spec.secrets : [];
    const ok = query.get("hub.mode") === "subscribe" && secrets.some((s) => secretsEqual(token, s));
    if (!ok) return { status: 403, contentType: "text/plain", body: "verification token mismatch", refused: "bad_verify_token" };
    if (hub.length > MAX_CHALLENGE) return { status: 403, contentType: "text/plain", body: `challenge longer than ${MAX_CHALLENGE} characters`, refused: "bad_challenge" };
    return { status: 200, contentType: "text/plain", body: hub };
  }
  const echo = query.get("challenge");
  if (echo !== null && echo.length <= MAX_CHALLENGE) return { status: 200, contentType: "text/plain", body: echo };
  return null;
}
