import type { InboundRequest, VerifySpec } from "../types.ts";

/** A response the relay sends instead of storing the request as an event. */
export interface HandshakeResponse {
  status: number;
  contentType: string;
  body: string;
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
