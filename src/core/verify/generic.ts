import type { InboundRequest, VerifySpec } from "../types.ts";
import { checkSignatures, decodeKey, decodeSignature, secretsEqual, utf8Key, type Part } from "./hmac.ts";
import { configuredSecrets, headerLabel, missingHeader, OK, reject, SIGNED_URL_HINT, type Verifier } from "./result.ts";
import { signedUrl, urlAsSent } from "./signed-url.ts";
import { checkTimestamp, timestampHeader, timestampProblem, type TimestampRule } from "./timestamp.ts";

/** The generic HMAC variant of VerifySpec. */
export type HmacSpec = Extract<VerifySpec, { kind: "hmac" }>;
type Placeholder = "body" | "timestamp" | "id" | "url";
type TemplatePiece = { literal: string } | { placeholder: Placeholder };

const PLACEHOLDERS: readonly string[] = ["body", "timestamp", "id", "url"];

/**
 * Split a signed-content template such as `"v0:{timestamp}:{body}"` into
 * literals and placeholders. An unknown `{name}` is a config bug, so it throws
 * when the verifier is built rather than failing every request later.
 */
export function compileTemplate(template: string): TemplatePiece[] {
  const pieces: TemplatePiece[] = [];
  let last = 0;
  for (const match of template.matchAll(/\{([a-z_]+)\}/g)) {
    const name = match[1] ?? "";
    if (!PLACEHOLDERS.includes(name)) throw new Error(`verify: unknown placeholder {${name}} in signed template`);
    if (match.index > last) pieces.push({ literal: template.slice(last, match.index) });
    pieces.push({ placeholder: name as Placeholder });
    last = match.index + match[0].length;
  }
  if (last < template.length) pieces.push({ literal: template.slice(last) });
  return pieces;
}

/** Candidates: the whole value, plus each part when a duplicated header was joined with ", ". */
function prefixedCandidates(value: string, prefix: string): string[] | null {
  const raw = value.includes(", ") ? [value, ...value.split(", ")] : [value];
  const stripped = raw.filter((c) => c.startsWith(prefix)).map((c) => c.slice(prefix.length).trim());
  return stripped.length > 0 ? stripped : null;
}

/**
 * Generic HMAC scheme: a signature header (optional prefix) over a template of
 * `{body}`, `{timestamp}`, `{id}`, `{url}`; timestamps in seconds, checked in
 * both directions. Several presets (GitHub, Shopify, Slack, Square…) are this
 * scheme with fixed settings.
 */
export function hmacVerifier(spec: HmacSpec): Verifier {
  const pieces = compileTemplate(spec.signed);
  const uses = (p: Placeholder) => pieces.some((piece) => "placeholder" in piece && piece.placeholder === p);
  if (uses("timestamp") && !spec.timestampHeader) throw new Error("verify: {timestamp} needs a timestamp header");
  const needsId = uses("id");
  if (needsId && !spec.idHeader) throw new Error("verify: {id} needs an id header");
  const keys = spec.secrets.map((secret) => hmacKey(secret, spec.secretEncoding ?? "utf8"));
  const rule: TimestampRule = { unit: TIMESTAMP_UNITS[spec.timestampFormat ?? "unix"] };
  const label = headerLabel(spec.header);
  const timestampWhere = spec.timestampHeader ? timestampHeader(headerLabel(spec.timestampHeader)) : undefined;
  // A provider signing the URL it called fails when we rebuild another one: say where to look.
  const hint = uses("url") ? SIGNED_URL_HINT : undefined;
  return (req, nowMs) => {
    const value = req.headers.get(spec.header);
    if (value === null || value === "") return missingHeader("missing_signature", [spec.header]);
    let timestamp: string | null = null;
    if (spec.timestampHeader) {
      timestamp = req.headers.get(spec.timestampHeader);
      const problem = timestampProblem(timestamp, timestampWhere!, rule.unit);
      if (problem) return problem;
    }
    const id = spec.idHeader ? req.headers.get(spec.idHeader) : null;
    if (needsId && (id === null || id === "")) return missingHeader("missing_id", [spec.idHeader!]);
    const candidates = prefixedCandidates(value, spec.prefix);
    if (candidates === null) return reject("malformed_signature", `${label} does not start with "${spec.prefix}"`);
    // The URL as the provider called it, query included (signed-url.ts): one content per form it may have had.
    const urls = uses("url") ? urlAsSent(signedUrl(spec.url, req.url)) : [""];
    const contents = urls.map((url) => {
      const values: Record<Placeholder, Part> = { body: req.body, timestamp: timestamp ?? "", id: id ?? "", url };
      return pieces.map((piece) => ("literal" in piece ? piece.literal : values[piece.placeholder]));
    });
    const result = checkSignatures({ algorithm: spec.algorithm, encoding: spec.encoding, keys, contents, candidates, label, hint });
    if (!result.ok || !spec.timestampHeader) return result;
    return checkTimestamp(timestamp, nowMs, spec.toleranceSec, rule, timestampWhere);
  };
}

const TIMESTAMP_UNITS: Record<NonNullable<HmacSpec["timestampFormat"]>, TimestampRule["unit"]> = { unix: "s", unix_ms: "ms", rfc3339: "rfc3339" };

/**
 * The HMAC key a secret stands for: its UTF-8 bytes, or the bytes it encodes
 * (a provider that hands out a base64 or hex key and signs with the decoded
 * bytes). Config refuses a secret that is not written in its encoding
 * (decodeKey), so the key here is whole.
 */
function hmacKey(secret: string, encoding: NonNullable<HmacSpec["secretEncoding"]>): Uint8Array {
  return encoding === "utf8" ? utf8Key(secret) : (decodeKey(secret, encoding) ?? new Uint8Array());
}

/** A bearer secret in a header (GitLab token, Points), compared in constant time. */
export function sharedSecretVerifier(header: string, secrets: readonly string[]): Verifier {
  const mismatch = reject("bad_signature", `${headerLabel(header.toLowerCase())} does not match ${configuredSecrets(secrets.length)}`);
  return (req) => {
    const value = req.headers.get(header);
    if (value === null || value === "") return missingHeader("missing_signature", [header.toLowerCase()]);
    // Evaluate every secret (no early exit) so timing does not reveal which one matched.
    const matched = secrets.map((s) => secretsEqual(value, s)).includes(true);
    return matched ? OK : mismatch;
  };
}

/** HTTP Basic auth: fixed username, any of the secrets as password. */
export function basicVerifier(username: string, secrets: readonly string[]): Verifier {
  return (req: InboundRequest) => {
    const header = req.headers.get("authorization");
    if (header === null || header === "") return reject("missing_credentials", "missing Authorization header (Basic credentials expected)");
    const match = /^Basic +(\S+)$/i.exec(header);
    const decoded = match?.[1] ? (decodeSignature("base64", match[1])?.toString("utf8") ?? "") : "";
    const colon = decoded.indexOf(":");
    if (colon < 0) return reject("malformed_credentials", "Authorization is not Basic base64(username:password)");
    const userOk = secretsEqual(decoded.slice(0, colon), username);
    const password = decoded.slice(colon + 1);
    const passOk = secrets.map((s) => secretsEqual(password, s)).includes(true);
    return userOk && passOk ? OK : reject("bad_credentials", "the Basic username or password does not match");
  };
}

/** Explicit opt-out: everything passes (config logs a warning at start). */
export function noneVerifier(): Verifier {
  return () => OK;
}
