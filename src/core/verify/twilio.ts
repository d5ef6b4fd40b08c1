import { parse as parseQuery, stringify as stringifyQuery } from "node:querystring";
import { bytesEqual, checkSignatures, sha256Hex, utf8Key } from "./hmac.ts";
import { commaCandidates, missingHeader, reject, SIGNED_URL_HINT, type Verifier } from "./result.ts";
import { signedUrl, urlAsSent } from "./signed-url.ts";

const SCHEME_AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i;

/** Scheme, authority pieces and the rest, split without normalising (as twilio-node does). */
function splitUrl(url: string) {
  const match = SCHEME_AUTHORITY.exec(url);
  if (!match) return null;
  const [prefix, scheme = "", authority = ""] = match;
  const userEnd = authority.lastIndexOf("@");
  const hostPort = authority.slice(userEnd + 1);
  // A colon starts the port only after an IPv6 literal's closing bracket.
  const portStart = hostPort.indexOf(":", hostPort.lastIndexOf("]") + 1);
  return {
    scheme,
    user: authority.slice(0, userEnd + 1),
    host: portStart === -1 ? hostPort : hostPort.slice(0, portStart),
    port: portStart === -1 ? "" : hostPort.slice(portStart),
    rest: url.slice(prefix.length),
  };
}

function withoutPort(url: string): string {
  const p = splitUrl(url);
  return p ? p.scheme + p.user + p.host + p.rest : url;
}

function withDefaultPort(url: string): string {
  const p = splitUrl(url);
  if (!p || p.port) return url;
  const port = p.scheme.toLowerCase() === "https://" ? ":443" : ":80";
  return p.scheme + p.user + p.host + port + p.rest;
}

function withLegacyQuery(url: string): string {
  const q = url.indexOf("?");
  if (q === -1 || q === url.length - 1) return url;
  return url.slice(0, q) + "?" + stringifyQuery(parseQuery(url.slice(q + 1)));
}

/**
 * The URL forms twilio-node's validator tries: as received without and with
 * the default port, then the WHATWG-normalised URL (both port forms) and its
 * legacy-querystring re-encoding.
 */
export function twilioUrlVariants(url: string): string[] {
  const variants = [withoutPort(url), withDefaultPort(url)];
  if (URL.canParse(url)) {
    const normalised = new URL(url).toString();
    const bare = withoutPort(normalised);
    const ported = withDefaultPort(normalised);
    variants.push(bare, ported, withLegacyQuery(bare), withLegacyQuery(ported));
  }
  return [...new Set(variants)];
}

/**
 * Form parameters as Twilio signs them: decoded names in sort order, each
 * followed by its value; a repeated name contributes each distinct value, sorted.
 */
export function twilioParamString(body: Uint8Array): string {
  const params = new URLSearchParams(new TextDecoder().decode(body));
  const names = [...new Set(params.keys())].sort();
  return names
    .map((name) => [...new Set(params.getAll(name))].sort().map((value) => name + value).join(""))
    .join("");
}

/**
 * Twilio: HMAC-SHA1 base64 of URL + sorted form params (form bodies), or of
 * the URL alone with a `bodySHA256` query value that must equal the body's hash.
 */
export function twilioVerifier(secrets: readonly string[], configuredUrl: string | undefined): Verifier {
  const keys = secrets.map(utf8Key);
  return (req) => {
    const header = req.headers.get("x-twilio-signature");
    if (header === null || header === "") return missingHeader("missing_signature", ["x-twilio-signature"]);
    const url = signedUrl(configuredUrl, req.url);
    const bodyHash = URL.canParse(url) ? new URL(url).searchParams.get("bodySHA256") : null;
    const params = bodyHash === null ? twilioParamString(req.body) : "";
    const result = checkSignatures({
      algorithm: "sha1",
      encoding: "base64",
      keys,
      contents: [...new Set(urlAsSent(url).flatMap(twilioUrlVariants))].map((u) => [u + params]),
      candidates: commaCandidates(header),
      label: "X-Twilio-Signature",
      hint: SIGNED_URL_HINT,
    });
    if (!result.ok || bodyHash === null) return result;
    const matches = bytesEqual(Buffer.from(bodyHash), Buffer.from(sha256Hex(req.body)));
    return matches ? result : reject("body_hash_mismatch", "the body's SHA-256 does not match bodySHA256 in the URL");
  };
}
