/**
 * Which provider headers carry credentials, and their masked form. Shared
 * secrets (Points' X-Webhook-Secret, GitLab's X-Gitlab-Token), basic-auth and
 * cookies arrive as plain header values; the admin side never shows them.
 * Signatures stay visible: they are derived values, and comparing them is
 * how an operator debugs a mismatch.
 */
const SENSITIVE_NAMES = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-webhook-secret", "x-gitlab-token", "x-api-key"]);
const SENSITIVE_PARTS = ["secret", "token", "password", "passwd", "api-key", "apikey", "credential", "session"];

/** True when a header's value may be a credential and must not be displayed. */
export function isSensitiveHeader(name: string): boolean {
  const n = name.toLowerCase();
  return SENSITIVE_NAMES.has(n) || SENSITIVE_PARTS.some((p) => n.includes(p));
}

/** The value shown in place of a sensitive one: its length only. */
export function maskedValue(value: string): string {
  return `[masked, ${value.length} chars]`;
}

/** Copies headers with every sensitive value replaced by its masked form. */
export function maskHeaders(headers: readonly (readonly [string, string])[]): [string, string][] {
  return headers.map(([n, v]) => [n, isSensitiveHeader(n) ? maskedValue(v) : v]);
}
