/**
 * valibot schema of the raw TOML (SPEC.md "Config"). Leaves are checked and
 * converted here (durations → ms, sizes → bytes, secret refs → values, value
 * refs → ValueRef); rules that span several keys live in load.ts.
 * Tables are strict so that a typo (`verfy`) is a problem, not a silent default.
 */
import * as v from "valibot";
import { isForbiddenAddress } from "../core/address-guard.ts";
import { PRESETS, type ValueRef } from "../core/types.ts";
import { DEFAULTS } from "./defaults.ts";
import { resolveSecret, type SecretContext } from "./secret-ref.ts";
import type { ListenAddress } from "./types.ts";
import { describeValue, parseDurationMs, parseRatePerSec, parseSizeBytes } from "./units.ts";
import { parseValueRef } from "../core/value-ref.ts";
import { parseRouteFilter, type RouteFilter } from "../core/route-filter.ts";
import { parseRange, type IpRange } from "../core/ip-ranges.ts";
import { didYouMean } from "./did-you-mean.ts";
import { parseStoreUrl } from "./store-url.ts";
import { pem, targetHeaders } from "./target-credentials.ts";
import { ALERT_KINDS } from "../core/alert.ts";
import { MAX_TIMER_MS } from "../core/timer-limit.ts";

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;
export const SCHEMES = ["hmac", "shared-secret", "basic", "none"] as const;

type Ctx = SecretContext;
/** A value-or-error result, as every leaf parser returns. */
type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Message for a wrong type: `expected a string, got 12`. */
const expected = (what: string) => (issue: { input: unknown }) => `expected ${what}, got ${describeValue(issue.input)}`;

/** A leaf converted by a value-or-error parser; the error becomes the issue message. */
function converted<T>(parse: (input: unknown) => Parsed<T>) {
  return v.pipe(
    v.unknown(),
    v.rawTransform<unknown, T>(({ dataset, addIssue, NEVER }) => {
      const result = parse(dataset.value);
      if (result.ok) return result.value;
      addIssue({ message: result.error });
      return NEVER;
    }),
  );
}

const duration = () => converted(parseDurationMs);
/** A span that must pass before something happens (a deadline, a tolerance, a retention): 0 would mean "at once" or, read another way, "never". */
const span = () => v.pipe(duration(), v.check((ms) => ms > 0, 'expected a duration longer than 0 (like "30s")'));
/** No longer than a timer keeps: a longer wait would end at once. */
const withinTimer = () => v.check((ms: number) => ms <= MAX_TIMER_MS, "expected at most 24d (a timer waits no longer)");
/** A span the relay waits out on a timer (a deadline, a lock's wait). */
const timerSpan = () => v.pipe(span(), withinTimer());
const size = () => converted(parseSizeBytes);
const positiveSize = () => v.pipe(size(), v.check((n) => n > 0, 'expected a size larger than 0 (like "1mb")'));
/**
 * The longest `read_timeout`: the HTTP server closes a connection idle for
 * longer than 255 s whatever it is told, and the listener's idle limit is set
 * a few seconds past read_timeout so that the relay's 408 comes first.
 */
export const MAX_READ_TIMEOUT_MS = 250_000;
const rate = () => converted(parseRatePerSec);
const str = () => v.string(expected("a string"));
/** A strict table: unknown keys are problems, so typos are caught. */
const tbl = <E extends v.ObjectEntries>(entries: E) => v.strictObject(entries, expected("a table"));
const bool = () => v.boolean(expected("true or false"));
/** One of `values`; a misspelling gets a suggestion (`got "stripee"; did you mean "stripe"?`). */
const oneOf = <const T extends readonly string[]>(values: T, what: string) =>
  v.picklist(values, (issue) => `expected ${what}, got ${describeValue(issue.input)}${didYouMean(issue.input, values)}`);

const name = () =>
  v.pipe(
    str(),
    v.regex(NAME_PATTERN, (issue) => `expected lower-case letters, digits, "-" and "_" (like "orders"), got ${describeValue(issue.input)}`),
  );

/** "0.0.0.0:8080", ":8080" (all interfaces), "[::1]:8081", "localhost:8081". */
export function parseListenAddress(input: unknown): Parsed<ListenAddress> {
  const fail = { ok: false as const, error: `expected host:port like "127.0.0.1:8081", got ${describeValue(input)}` };
  if (typeof input !== "string") return fail;
  const match = /^(?:\[([0-9a-fA-F:.%\w]+)\]|([^:\[\]\s]*)):(\d{1,5})$/.exec(input.trim());
  if (!match) return fail;
  const port = Number(match[3]);
  if (port > 65535) return fail;
  const host = match[1] ?? (match[2] || "0.0.0.0");
  return { ok: true, value: { host, port } };
}

/** An http(s) URL. Its value is never echoed: it may carry credentials. */
function parseHttpUrl(input: unknown): Parsed<string> {
  if (typeof input !== "string") return { ok: false, error: `expected an http:// or https:// URL, got ${describeValue(input)}` };
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, error: `expected an http:// or https:// URL, got something that is not a URL${schemeHint(input)}` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    // "localhost:3000" reads as a URL of scheme "localhost:" ("127.0.0.1:3000" as no URL at all).
    return { ok: false, error: `expected an http:// or https:// URL, got a ${url.protocol} URL${schemeHint(input)}` };
  }
  return { ok: true, value: input };
}

/**
 * For a host and port written without their scheme ("localhost:3000", "127.0.0.1:3000/hooks",
 * "[::1]:3000"), the URL meant. The host and port carry no credential and are echoed; whatever
 * follows them (a path or query may be one) never is.
 */
function schemeHint(input: string): string {
  const hostPort = /^((?:[a-z0-9.-]+|\[[0-9a-f:.]+\]):\d{1,5})([/?#].*)?$/is.exec(input);
  return hostPort ? `; did you mean "http://${hostPort[1]}${hostPort[2] ? "/…" : ""}"?` : "";
}

const httpUrl = () => converted(parseHttpUrl);

/** A push target URL: http(s), and never a link-local or cloud-metadata host. */
function parseTargetUrl(input: unknown): Parsed<string> {
  const base = parseHttpUrl(input);
  if (!base.ok) return base;
  const text = input as string;
  const url = new URL(text);
  // The URL parser already rewrites 2852039166 to 169.254.169.254; check what
  // the user wrote as well, so the rule does not rest on that normalisation.
  const written = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(text)?.[1] ?? url.hostname;
  if (isForbiddenAddress(url.hostname) || isForbiddenAddress(written)) {
    const shown = written === url.hostname ? written : `${written} (${url.hostname})`;
    return { ok: false, error: `host ${shown} is link-local or a cloud metadata address; refused` };
  }
  // Requests carry the target's credentials in Authorization (auth), never from the URL: a user
  // name and password left in it would be dropped silently, and the target answer 401.
  if (url.username !== "" || url.password !== "")
    return { ok: false, error: 'a user name or password in the URL is not sent; give it as auth = { basic = { username = "…", password = "env:…" } }' };
  return { ok: true, value: text };
}

/**
 * A push target's URL, written out or read from a secret (`env:NAME`,
 * `file:/path`): an incoming-webhook URL (Slack's, Teams') is itself the
 * credential. One read from a secret is shown by its scheme and host only.
 */
function targetUrl(ctx: Ctx) {
  return converted<{ url: string; secret: boolean }>((input) => {
    if (typeof input === "string" && /^(env|file):/.test(input)) {
      const resolved = resolveSecret(input, ctx);
      if (!resolved.ok) return resolved;
      const parsed = parseTargetUrl(resolved.value.trim());
      // Its errors name the scheme or the host at most, never the path that holds the credential.
      return parsed.ok ? { ok: true, value: { url: parsed.value, secret: true } } : { ok: false, error: `${parsed.error} (read from ${input.split(":")[0]}:)` };
    }
    const parsed = parseTargetUrl(input);
    return parsed.ok ? { ok: true, value: { url: parsed.value, secret: false } } : parsed;
  });
}

/** `secret = "…"` or `secret = ["new", "old"]`, each a literal, env:NAME or file:/path. */
function secretList(ctx: Ctx) {
  return v.pipe(
    v.unknown(),
    v.rawTransform<unknown, string[]>(({ dataset, addIssue, NEVER }) => {
      const input = dataset.value;
      // The value may be a secret written with the wrong type: never describe it.
      const typeError = "expected a string or a list of strings (literal, env:NAME or file:/path)";
      const refs = typeof input === "string" ? [input] : Array.isArray(input) ? input : null;
      if (refs === null || refs.length === 0) {
        addIssue({ message: refs === null ? typeError : "expected at least one secret" });
        return NEVER;
      }
      const values: string[] = [];
      let failed = false;
      refs.forEach((ref, index) => {
        const path = Array.isArray(input)
          ? ([{ type: "array", origin: "value", input, key: index, value: ref }] as never)
          : undefined;
        if (typeof ref !== "string") {
          addIssue({ message: typeError, path });
          failed = true;
          return;
        }
        const result = resolveSecret(ref, ctx);
        if (result.ok) values.push(result.value);
        else {
          addIssue({ message: result.error, path });
          failed = true;
        }
      });
      return failed ? NEVER : values;
    }),
  );
}

/** A single secret (admin token, listen token). */
function secretOne(ctx: Ctx) {
  return converted<string>((input) => {
    if (typeof input !== "string") return { ok: false, error: "expected a string (literal, env:NAME or file:/path)" };
    const result = resolveSecret(input, ctx);
    return result;
  });
}

/** A string or a list of strings, as a list. */
function stringList(what: string, check?: (s: string) => string | null) {
  return converted<string[]>((input) => {
    const items = typeof input === "string" ? [input] : Array.isArray(input) ? input : null;
    if (items === null || items.length === 0 || items.some((s) => typeof s !== "string")) {
      return { ok: false, error: `expected ${what} or a non-empty list of them, got ${describeValue(input)}` };
    }
    for (const item of items as string[]) {
      const error = check?.(item);
      if (error) return { ok: false, error };
    }
    return { ok: true, value: items as string[] };
  });
}

/** `"$.a.b"`, `"header:Name"` or `"query:n"`, one or a list; in a list each bad one is reported under its index. */
const valueRefs = () =>
  v.pipe(
    v.unknown(),
    v.rawTransform<unknown, ValueRef[]>(({ dataset, addIssue, NEVER }) => {
      const input = dataset.value;
      const expectedText = (got: unknown) => `expected "$.json.path", "header:Name" or "query:name" (or a list of them), got ${describeValue(got)}`;
      const items = typeof input === "string" ? [input] : Array.isArray(input) ? input : null;
      if (items === null || items.length === 0) {
        addIssue({ message: expectedText(input) });
        return NEVER;
      }
      const refs: ValueRef[] = [];
      items.forEach((item, key) => {
        const ref = typeof item === "string" ? parseValueRef(item) : null;
        if (ref !== null) refs.push(ref);
        else if (!Array.isArray(input)) addIssue({ message: expectedText(item) });
        else addIssue({ message: expectedText(item), path: [{ type: "array", origin: "value", input, key, value: item }] as never });
      });
      return refs.length === items.length ? refs : NEVER;
    }),
  );

/** A route's `filter` table (core/route-filter.ts): every problem under its own key path. */
const routeFilter = () =>
  v.pipe(
    v.unknown(),
    v.rawTransform<unknown, RouteFilter>(({ dataset, addIssue, NEVER }) => {
      const parsed = parseRouteFilter(dataset.value);
      if (parsed.ok) return parsed.filter;
      for (const p of parsed.problems) {
        const path = p.path.map((key) => ({ type: "object", origin: "value", input: null, key, value: null }));
        addIssue({ message: p.message, path: path.length > 0 ? (path as never) : undefined });
      }
      return NEVER;
    }),
  );

/** A list of CIDR ranges (`server.trusted_proxies`, `allow_ips`); each bad one reported under its index. */
const ipRanges = () =>
  v.pipe(
    v.unknown(),
    v.rawTransform<unknown, IpRange[]>(({ dataset, addIssue, NEVER }) => {
      const input = dataset.value;
      if (!Array.isArray(input)) {
        addIssue({ message: `expected a list of address ranges like ["10.0.0.0/8"], got ${describeValue(input)}` });
        return NEVER;
      }
      if (input.length === 0) {
        addIssue({ message: "expected at least one range (leave the key out to allow every address)" });
        return NEVER;
      }
      const ranges: IpRange[] = [];
      input.forEach((item, key) => {
        const parsed = typeof item === "string" ? parseRange(item) : { ok: false as const, error: `expected a string, got ${describeValue(item)}` };
        if (parsed.ok) ranges.push(parsed.value);
        else addIssue({ message: parsed.error, path: [{ type: "array", origin: "value", input, key, value: item }] as never });
      });
      return ranges.length === input.length ? ranges : NEVER;
    }),
  );

const headerName = () =>
  v.pipe(
    str(),
    v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, (issue) => `expected an HTTP header name, got ${describeValue(issue.input)}`),
    v.toLowerCase(),
  );

/** Builds the schemas with the context secret refs are resolved in. */
export function createSchemas(ctx: Ctx) {
  const server = tbl({
    listen: v.optional(converted(parseListenAddress), DEFAULTS.server.listen),
    admin_listen: v.optional(converted(parseListenAddress), DEFAULTS.server.admin_listen),
    public_url: v.optional(v.pipe(httpUrl(), v.transform((u) => u.replace(/\/+$/, "")))),
    max_body: v.optional(positiveSize(), DEFAULTS.server.max_body),
    read_timeout: v.optional(
      v.pipe(span(), v.check((ms) => ms <= MAX_READ_TIMEOUT_MS, "expected at most 250s (the HTTP server's own idle limit is 255 s)")),
      DEFAULTS.server.read_timeout,
    ),
    max_inflight: v.optional(positiveSize(), DEFAULTS.server.max_inflight),
    trusted_proxies: v.optional(ipRanges()),
  });

  const store = tbl({
    url: v.optional(converted(parseStoreUrl), DEFAULTS.store.url),
    /** PostgreSQL's password, a secret ref (else the URL's, or PGPASSWORD); load.ts refuses it for other stores. */
    password: v.optional(secretOne(ctx)),
    retention: v.optional(span(), DEFAULTS.store.retention),
    busy_timeout: v.optional(v.pipe(duration(), withinTimer()), DEFAULTS.store.busy_timeout),
    search: v.optional(bool(), DEFAULTS.store.search),
    /** Directory retention archives events into before deleting them (store/event-archive.ts); none by default. */
    archive: v.optional(v.pipe(str(), v.minLength(1, "expected a directory path, got an empty string"))),
  });

  const admin = tbl({ token: v.optional(secretOne(ctx)) });

  const logLevel = v.optional(
    oneOf(["debug", "info", "warn", "error"], 'one of "debug", "info", "warn", "error"'),
    DEFAULTS.log_level,
  );

  const verify = tbl({
    preset: v.optional(oneOf(PRESETS, `a preset (${PRESETS.join(", ")})`)),
    scheme: v.optional(oneOf(SCHEMES, `a scheme (${SCHEMES.join(", ")})`)),
    secret: v.optional(secretList(ctx)),
    tolerance: v.optional(span()),
    url: v.optional(httpUrl()),
    header: v.optional(headerName()),
    algorithm: v.optional(oneOf(["sha1", "sha256", "sha512"], '"sha1", "sha256" or "sha512"')),
    encoding: v.optional(oneOf(["hex", "base64"], '"hex" or "base64"')),
    prefix: v.optional(str()),
    signed: v.optional(str()),
    timestamp_header: v.optional(headerName()),
    timestamp_format: v.optional(oneOf(["unix", "unix_ms", "rfc3339"], '"unix" (seconds), "unix_ms" or "rfc3339"')),
    secret_encoding: v.optional(oneOf(["utf8", "base64", "hex"], '"utf8", "base64" or "hex"')),
    id_header: v.optional(headerName()),
    username: v.optional(str()),
  });

  const source = tbl({
    name: name(),
    verify,
    dedupe: v.optional(
      tbl({
        key: v.optional(valueRefs()),
        window: v.optional(duration(), DEFAULTS.source.dedupe_window),
      }),
    ),
    event_type: v.optional(valueRefs()),
    forward_headers: v.optional(
      v.pipe(v.array(headerName(), expected("a list of header names")), v.transform((names) => [...new Set(names)])),
    ),
    allow_ips: v.optional(ipRanges()),
    verify_token: v.optional(secretOne(ctx)),
  });

  const target = tbl({
    name: name(),
    kind: v.optional(oneOf(["push", "listen"], '"push" or "listen"'), DEFAULTS.target.kind),
    url: v.optional(targetUrl(ctx)),
    signing: v.optional(tbl({ secret: secretList(ctx) })),
    token: v.optional(secretOne(ctx)),
    timeout: v.optional(timerSpan(), DEFAULTS.target.timeout),
    connect_timeout: v.optional(timerSpan(), DEFAULTS.target.connect_timeout),
    retry: v.optional(
      tbl({
        schedule: v.optional(
          v.pipe(
            v.array(duration(), expected('a list of durations like ["0s", "5s", "1m"]')),
            v.minLength(1, "expected at least one delay (the first attempt's, \"0s\": it goes at once)"),
          ),
          [...DEFAULTS.target.retry.schedule],
        ),
        jitter: v.optional(
          v.pipe(
            v.number(expected("a number between 0 and 1")),
            v.minValue(0, expected("a number between 0 and 1")),
            v.maxValue(1, expected("a number between 0 and 1")),
          ),
          DEFAULTS.target.retry.jitter,
        ),
      }),
      {},
    ),
    concurrency: v.optional(
      v.pipe(
        v.number(expected("a whole number ≥ 1")),
        v.integer(expected("a whole number ≥ 1")),
        v.minValue(1, expected("a whole number ≥ 1")),
      ),
      DEFAULTS.target.concurrency,
    ),
    rate: v.optional(rate()),
    ordered: v.optional(bool(), DEFAULTS.target.ordered),
    disable_after: v.optional(span(), DEFAULTS.target.disable_after),
    enabled: v.optional(bool(), DEFAULTS.target.enabled),
    // Push targets behind credentials (target-credentials.ts has the rules across these keys).
    headers: v.optional(targetHeaders(ctx)),
    auth: v.optional(
      tbl({
        bearer: v.optional(secretOne(ctx)),
        basic: v.optional(tbl({ username: secretOne(ctx), password: secretOne(ctx) })),
        oauth2: v.optional(
          tbl({
            token_url: converted(parseTargetUrl),
            client_id: secretOne(ctx),
            client_secret: secretOne(ctx),
            scope: v.optional(str()),
          }),
        ),
      }),
    ),
    tls: v.optional(tbl({ ca: v.optional(pem("certificates", ctx)), cert: v.optional(pem("certificates", ctx)), key: v.optional(pem("private key", ctx)) })),
    format: v.optional(oneOf(["raw", "slack"], '"raw" or "slack"'), DEFAULTS.target.format),
  });

  const route = tbl({
    from: str(),
    to: stringList("a target name"),
    event_types: v.optional(stringList("an event type glob")),
    filter: v.optional(routeFilter()),
  });

  // Which targets exist is checked in load.ts (alerts.ts), like a route's `to`.
  const alerts = tbl({
    to: stringList("a target name"),
    on: v.optional(
      v.array(oneOf(ALERT_KINDS, `an alert kind (${ALERT_KINDS.join(", ")})`), expected("a list of alert kinds")),
      [...ALERT_KINDS],
    ),
    stale_after: v.optional(span(), DEFAULTS.alerts.stale_after),
    repeat_after: v.optional(duration(), DEFAULTS.alerts.repeat_after),
  });

  const table = (what: string) => v.record(v.string(), v.unknown(), expected(what));
  const tables = (what: string) => v.array(v.unknown(), expected(what));
  /** Top level only: which keys exist and which are tables or arrays of tables. */
  const root = tbl({
    server: v.optional(table("a [server] table")),
    store: v.optional(table("a [store] table")),
    admin: v.optional(table("an [admin] table")),
    log_level: v.optional(v.unknown()),
    sources: v.optional(tables("[[sources]] tables")),
    targets: v.optional(tables("[[targets]] tables")),
    routes: v.optional(tables("[[routes]] tables")),
    alerts: v.optional(table("an [alerts] table")),
  });

  /** The whole raw config as one schema (load.ts parses it section by section). */
  const config = tbl({
    server: v.optional(server, {}),
    store: v.optional(store, {}),
    admin: v.optional(admin, {}),
    log_level: logLevel,
    sources: v.optional(v.array(source), []),
    targets: v.optional(v.array(target), []),
    routes: v.optional(v.array(route), []),
    alerts: v.optional(alerts),
  });

  return { root, server, store, admin, logLevel, verify, source, target, route, alerts, config };
}

export type Schemas = ReturnType<typeof createSchemas>;
export type RawConfig = v.InferOutput<Schemas["config"]>;
export type RawSource = v.InferOutput<Schemas["source"]>;
export type RawTarget = v.InferOutput<Schemas["target"]>;
export type RawRoute = v.InferOutput<Schemas["route"]>;
export type RawServer = v.InferOutput<Schemas["server"]>;
export type RawAlerts = v.InferOutput<Schemas["alerts"]>;
