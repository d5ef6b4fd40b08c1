/**
 * A push target's credentials (SPEC.md "Targets: headers, auth, TLS"): extra
 * request headers, one auth kind (bearer, basic, OAuth2 client credentials)
 * and TLS material (a private CA, a client certificate for mTLS). Every value
 * is resolved like any secret (literal, env:, file:) and never shown: problem
 * messages name the key and the file or variable, not what was read.
 * schema.ts holds the tables' shape; the leaves and the rules across keys are here.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import * as v from "valibot";
import { HOP_BY_HOP_HEADERS, isRelayHeader } from "../core/forward-headers.ts";
import type { Path } from "./key-path.ts";
import { isTable } from "./key-path.ts";
import { resolveSecret, type SecretContext } from "./secret-ref.ts";
import type { TargetAuth, TargetTls } from "./types.ts";

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A line break would split the request's headers (another header injected); tab is allowed.
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
// Headers hookrelay writes on every delivery: a configured value would collide with (or spoof) them.
const SET_BY_RELAY = new Set(["host", "content-length", "content-type", "content-encoding"]);
const HOP_BY_HOP = new Set(HOP_BY_HOP_HEADERS);

/** Why a configured header name may not be set, or null when it may. */
function forbiddenHeader(name: string): string | null {
  const lower = name.toLowerCase();
  if (lower === "authorization") return "may not be set in headers; use auth (bearer, basic or oauth2)";
  if (SET_BY_RELAY.has(lower) || isRelayHeader(lower)) return "may not be set in headers: hookrelay sets it on every delivery";
  if (HOP_BY_HOP.has(lower)) return "may not be set in headers: it belongs to one connection, not to the request";
  return null;
}

/** `headers = { "X-Api-Key" = "env:KEY" }` → lower-cased names with resolved values; each problem under its name. */
export function targetHeaders(ctx: SecretContext) {
  return v.pipe(
    v.unknown(),
    v.rawTransform<unknown, [string, string][]>(({ dataset, addIssue, NEVER }) => {
      const input = dataset.value;
      if (!isTable(input)) {
        addIssue({ message: 'expected a table of header names and values, like { "X-Api-Key" = "env:KEY" }' });
        return NEVER;
      }
      const out: [string, string][] = [];
      const seen = new Map<string, string>();
      let failed = false;
      for (const [name, value] of Object.entries(input)) {
        const fail = (message: string) => {
          addIssue({ message, path: [{ type: "object", origin: "value", input, key: name, value }] as never });
          failed = true;
        };
        const lower = name.toLowerCase();
        const forbidden = forbiddenHeader(name);
        const resolved = typeof value === "string" ? resolveSecret(value, ctx) : null;
        if (!HEADER_NAME.test(name)) fail("expected an HTTP header name");
        else if (forbidden) fail(forbidden);
        else if (seen.has(lower)) fail(`set twice (also ${seen.get(lower)})`);
        // The value may be a secret written with the wrong type: never describe it.
        else if (resolved === null) fail("expected a string (literal, env:NAME or file:/path)");
        else if (!resolved.ok) fail(resolved.error);
        else if (CONTROL.test(resolved.value)) fail("expected a header value without line breaks or control characters");
        else out.push([lower, resolved.value]);
        seen.set(lower, name);
      }
      return failed ? NEVER : out;
    }),
  );
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** One or more PEM certificates (a CA bundle, or a client certificate and its chain). */
function parseCertificates(pem: string): boolean {
  const blocks = pem.match(CERT_BLOCK);
  if (!blocks) return false;
  try {
    for (const block of blocks) new X509Certificate(block);
    return true;
  } catch {
    return false;
  }
}

function parsePrivateKey(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

/** A `tls` value: PEM text, or an env:/file: ref to it, checked to parse (never echoed). */
export function pem(kind: "certificates" | "private key", ctx: SecretContext) {
  return v.pipe(
    v.unknown(),
    v.rawTransform<unknown, string>(({ dataset, addIssue, NEVER }) => {
      const what = kind === "certificates" ? "PEM certificates (-----BEGIN CERTIFICATE-----)" : "an unencrypted PEM private key";
      const fail = (message: string) => {
        addIssue({ message });
        return NEVER;
      };
      if (typeof dataset.value !== "string") return fail(`expected ${what}, as text or an env:/file: ref`);
      const resolved = resolveSecret(dataset.value, ctx);
      if (!resolved.ok) return fail(resolved.error);
      const parses = kind === "certificates" ? parseCertificates(resolved.value) : parsePrivateKey(resolved.value);
      return parses ? resolved.value : fail(`expected ${what}, as text or an env:/file: ref`);
    }),
  );
}

/** A target's `headers`, `auth` and `tls` as the schema leaves them (partial when a key failed). */
export interface RawCredentials {
  headers?: [string, string][];
  auth?: {
    bearer?: string;
    basic?: { username: string; password: string };
    oauth2?: { token_url: string; client_id: string; client_secret: string; scope?: string };
  };
  tls?: { ca?: string; cert?: string; key?: string };
}

const AUTH_KINDS = ["bearer", "basic", "oauth2"] as const;

/**
 * The rules across keys: push targets only, exactly one auth kind, a client
 * certificate with its key, tls only over https. Returns false when any failed.
 */
export function checkTargetCredentials(
  tgt: RawCredentials & { kind?: string; url?: { url: string } },
  raw: Record<string, unknown>,
  at: (...keys: string[]) => Path,
  problem: (path: Path, message: string) => void,
): boolean {
  let ok = true;
  const fail = (path: Path, message: string) => {
    problem(path, message);
    ok = false;
  };
  if (tgt.kind === "listen") {
    for (const key of ["headers", "auth", "tls"]) if (key in raw) fail(at(key), "only used by push targets");
    return ok;
  }
  if (tgt.auth?.bearer !== undefined && !/^[\x21-\x7e]+$/.test(tgt.auth.bearer)) {
    fail(at("auth", "bearer"), "expected a token without spaces, line breaks or control characters");
  }
  // Partial when a key failed: a missing username has its problem already.
  if (tgt.auth?.basic?.username?.includes(":")) fail(at("auth", "basic", "username"), 'may not contain ":" (it separates username and password)');
  if (isTable(raw.auth)) {
    const given = AUTH_KINDS.filter((k) => k in (raw.auth as object));
    // A misspelt kind (`beaer`) is an unknown key already.
    if (Object.keys(raw.auth).length === 0) fail(at("auth"), "expected one of bearer, basic or oauth2");
    else if (given.length > 1) fail(at("auth"), `expected one of bearer, basic or oauth2, got ${given.join(" and ")}`);
  }
  if (isTable(raw.tls)) {
    const { cert, key } = raw.tls;
    if (cert !== undefined && key === undefined) fail(at("tls", "key"), "required with tls.cert");
    if (key !== undefined && cert === undefined) fail(at("tls", "cert"), "required with tls.key");
    if (tgt.tls?.cert && tgt.tls.key && !keyMatches(tgt.tls.cert, tgt.tls.key)) fail(at("tls", "key"), "does not match tls.cert");
    if (tgt.url !== undefined && new URL(tgt.url.url).protocol !== "https:") fail(at("tls"), "only used with an https:// url");
  }
  return ok;
}

function keyMatches(cert: string, key: string): boolean {
  try {
    return new X509Certificate(cert.match(CERT_BLOCK)![0]).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

/** The TargetConfig fields of a target whose credentials passed every check. */
export function targetCredentials(tgt: RawCredentials): { headers: [string, string][]; auth: TargetAuth | null; tls: TargetTls | null } {
  const a = tgt.auth;
  let auth: TargetAuth | null = null;
  if (a?.bearer !== undefined) auth = { kind: "bearer", token: a.bearer };
  else if (a?.basic) auth = { kind: "basic", username: a.basic.username, password: a.basic.password };
  else if (a?.oauth2) {
    const o = a.oauth2;
    auth = { kind: "oauth2", tokenUrl: o.token_url, clientId: o.client_id, clientSecret: o.client_secret, scope: o.scope ?? null };
  }
  const tls = tgt.tls ? { ca: tgt.tls.ca ?? null, cert: tgt.tls.cert ?? null, key: tgt.tls.key ?? null } : null;
  return { headers: tgt.headers ?? [], auth, tls };
}
