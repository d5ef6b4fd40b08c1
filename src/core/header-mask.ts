/**
 * Which provider headers carry credentials, and their redacted form. Shared
 * secrets (Points' X-Webhook-Secret, GitLab's X-Gitlab-Token, a shared-secret
 * source's own header), basic-auth and cookies arrive as plain header values:
 * ingest stores them redacted (redactHeaders, names from the source's scheme),
 * and the admin side masks any other header whose name looks secret.
 * Signatures stay visible: they are derived values, and comparing them is
 * how an operator debugs a mismatch.
 */
// Exact names, then parts of names (X-Webhook-Secret, X-Gitlab-Token, X-Api-Key, …); one regex: every attempt's record is masked with it.
const SENSITIVE = /^(?:authorization|proxy-authorization|cookie|set-cookie)$|secret|token|passw(?:or)?d|api[-_]?key|credential|session/i;
// Credentials for the relay or a proxy in front of it, whatever the scheme: never forwarded, never needed later.
const ALWAYS_REDACTED = ["authorization", "proxy-authorization", "cookie"];
const REDACTED = /^\[redacted: \d+ chars\]$/;

/** True when a header's value may be a credential and must not be displayed. */
export function isSensitiveHeader(name: string): boolean {
  return SENSITIVE.test(name);
}

/** The value stored or shown in place of a credential: its length only. */
export function redactedValue(value: string): string {
  return `[redacted: ${value.length} chars]`;
}

/** True when a value is already in its redacted form. */
export function isRedacted(value: string): boolean {
  return REDACTED.test(value);
}

/** Copies headers with every sensitive value replaced by its redacted form (for display). */
export function maskHeaders(headers: readonly (readonly [string, string])[]): [string, string][] {
  return headers.map(([n, v]) => [n, isSensitiveHeader(n) && !isRedacted(v) ? redactedValue(v) : v]);
}

/**
 * A provider's query string as shown: the value of every parameter whose name
 * looks secret, by the same test as a header's (`?token=…`, `?api_key=…`),
 * replaced by its redacted form. A leading "?" is kept.
 *
 * @example maskQuery("evt=1&token=s3cret") // "evt=1&token=[redacted: 6 chars]"
 */
export function maskQuery(query: string): string {
  return query.replace(/(^\?|&|^)([^&=]*)=([^&]*)/g, (pair, lead: string, name: string, value: string) => {
    if (!isSensitiveParam(decodedName(name))) return pair;
    // Stored redacted already (a rejected `hub.verify_token`): shown as it reads, not measured again.
    const decoded = decodedName(value);
    return `${lead}${name}=${isRedacted(decoded) ? decoded : redactedValue(value)}`;
  });
}

// Names a URL carries a credential under that a header seldom has: an API key (`?key=`), a
// signed URL's signature (Azure SAS `sig`, S3 `X-Amz-Signature`, which grant access on their
// own), a function key or OAuth code (`?code=`), a token under another name (`auth`, `jwt`).
const SENSITIVE_PARAM = /^(?:key|sig|code|auth|jwt)$|signature|access[-_]?key/i;

function isSensitiveParam(name: string): boolean {
  return isSensitiveHeader(name) || SENSITIVE_PARAM.test(name);
}

/** A path with its query (a rejection's request line) as shown: the query masked (maskQuery). */
export function maskPathQuery(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf("?");
  return q < 0 ? pathAndQuery : pathAndQuery.slice(0, q) + maskQuery(pathAndQuery.slice(q));
}

/** A query name or value as text ("+" a space, %XX decoded); as written when it is not valid percent-encoding. */
function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll("+", " "));
  } catch {
    return name;
  }
}

/**
 * A URL as shown and recorded: a target URL may carry credentials in its
 * userinfo or query, so neither is kept ("?…" says there was a query).
 *
 * @example maskUrl("https://u:p@h.example/x?key=s") // "https://h.example/x?…"
 */
export function maskUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?…" : ""}`;
  } catch {
    return "";
  }
}

/**
 * A target's URL as the UI, the API and attempt records show it: without its
 * query (maskUrl), and without its path too when it was read from a secret
 * (an incoming-webhook URL, whose path is the credential).
 *
 * @example shownTargetUrl({ url: "https://hooks.slack.com/services/T0/B0/XyZ", urlIsSecret: true }) // "https://hooks.slack.com/…"
 */
export function shownTargetUrl(t: { url: string; urlIsSecret?: boolean }): string {
  if (!t.urlIsSecret) return maskUrl(t.url);
  try {
    const u = new URL(t.url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return "";
  }
}

/** Shorter configured values are left in a reply's text: replacing every "2" or "prod" would garble it, and they guard nothing. */
const SHORTEST_SCRUBBED = 6;

/**
 * What of a target's own config a reply may echo (a debugging endpoint, a
 * gateway's error page) and its stored excerpt must not keep: every
 * configured header value (secret refs or not: the record masks them all),
 * the URL's password and query values, as sent and decoded, and, for a URL
 * read from a secret, the URL, its path and each of its path segments.
 * Longest first, so that a whole is replaced before a piece of it.
 *
 * @example echoableSecrets({ url: "https://h.example/x?key=s3cr3t-k", headers: [] }) // ["s3cr3t-k"]
 */
export function echoableSecrets(t: { url: string; urlIsSecret?: boolean; headers: readonly [string, string][] }): string[] {
  const values = t.headers.map(([, value]) => value);
  const u = URL.canParse(t.url) ? new URL(t.url) : null;
  if (u) {
    values.push(u.password, decoded(u.password));
    // Values as sent; a bare flag (`?verbose`) has none.
    for (const pair of u.search.slice(1).split("&")) if (pair.includes("=")) values.push(pair.slice(pair.indexOf("=") + 1));
    for (const [, value] of u.searchParams) values.push(value);
    if (t.urlIsSecret) values.push(t.url, u.pathname + u.search, ...u.pathname.split("/").flatMap((piece) => [piece, decoded(piece)]));
  }
  return [...new Set(values)].filter((v) => v.length >= SHORTEST_SCRUBBED).sort((a, b) => b.length - a.length);
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The lower-cased header names a source stores redacted: its scheme's credential headers and the relay-wide ones. */
export function redactionSet(credentialHeaders: readonly string[]): ReadonlySet<string> {
  return new Set([...ALWAYS_REDACTED, ...credentialHeaders.map((n) => n.toLowerCase())]);
}

/**
 * Copies headers with the values of `names` (lower-cased) redacted, for storage.
 *
 * @example redactHeaders([["x-hook-key", "s3cret"]], new Set(["x-hook-key"])) // [["x-hook-key", "[redacted: 6 chars]"]]
 */
export function redactHeaders(headers: readonly (readonly [string, string])[], names: ReadonlySet<string>): [string, string][] {
  return headers.map(([n, v]) => [n, names.has(n.toLowerCase()) ? redactedValue(v) : v]);
}
