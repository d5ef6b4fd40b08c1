/**
 * Turns TOML text into a validated, resolved Config, collecting EVERY problem
 * (each prefixed by its key path, `sources[1].verify.secret: …`) instead of
 * stopping at the first, so `hookrelay check` shows the whole list at once.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import * as v from "valibot";
import { isLoopback } from "../core/address-guard.ts";
import { checksTimestamp, credentialHeaders, decodeKey, presetDefaults } from "../core/verify/index.ts";
import { ALWAYS_SENT_HEADERS, isForwardableHeader } from "../core/forward-headers.ts";
import { DEFAULTS, defaultMs } from "./defaults.ts";
import { didYouMean } from "./did-you-mean.ts";
import { SOURCE_STATS_WINDOW_MS, TARGET_STATS_WINDOW_MS, type VerifySpec } from "../core/types.ts";
import { referenceLookAlike } from "./secret-ref.ts";
import { createSchemas, type RawServer, type RawSource, type RawTarget, type Schemas } from "./schema.ts";
import type { Config, ListenAddress, RouteConfig, SourceConfig, TargetConfig } from "./types.ts";
import { formatPath, isTable, type Path } from "./key-path.ts";
import { buildVerifySpec, type Report } from "./verify-spec.ts";
import { checkTargetCredentials, targetCredentials } from "./target-credentials.ts";
import { buildAlerts, checkReservedSourceNames } from "./alerts.ts";
import { isPostgresStoreUrl, urlHasPassword } from "./store-url.ts";
import { durationText } from "./units.ts";

/** What the overview needs a retention to keep: its 5-minute step, the 5 minutes it settles, and the minute job's turn (store/overview.ts). */
const OVERVIEW_NEEDS_MS = 11 * 60_000;
/**
 * Whether the value at `path` may be a secret reference (env:NAME, file:/path), where a look-alike is
 * warned about: the keys that take one. A route filter's `$push` or `token`, a dedupe key's `$id`,
 * the store's url (no secret reference) are values.
 */
function takesSecret(path: Path): boolean {
  const [table, , key, sub] = path;
  if (table === "admin") return path[1] === "token";
  if (table === "store") return path[1] === "password";
  if (table === "sources") return key === "verify_token" || (key === "verify" && sub === "secret");
  if (table === "targets") return key === "url" || key === "token" || key === "headers" || key === "auth" || key === "tls" || (key === "signing" && sub === "secret");
  return false;
}


export type LoadResult = { ok: true; config: Config; warnings: string[] } | { ok: false; problems: string[]; warnings?: string[] };

export interface LoadOptions {
  /** Where env: secret refs are read from (the process env, in main.ts). */
  env: Record<string, string | undefined>;
  /** Directory relative file: secret refs resolve against: the config file's. */
  baseDir: string;
}


/**
 * Validates and resolves a config from TOML text.
 *
 * @example loadConfig(await Bun.file("hookrelay.toml").text(), { env: process.env, baseDir: "." })
 */
export function loadConfig(text: string, opts: LoadOptions): LoadResult {
  const parsed = parseToml(text);
  if (!parsed.ok) return { ok: false, problems: [parsed.problem] };
  return new ConfigBuilder(createSchemas(opts)).build(parsed.value);
}

/** Reads and loads a config file; a missing file is one clear problem. */
export function readConfigFile(path: string, env: Record<string, string | undefined>): LoadResult {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file (use --config to point at one, or hookrelay init to write an example)" : `cannot read (${code ?? "error"})`;
    return { ok: false, problems: [`${path}: ${why}`] };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Decoded leniently, such a file fails as TOML at a byte it does not hold (the replacement character's).
    const utf16 = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
    return { ok: false, problems: [`${path}: not UTF-8 text, which TOML must be${utf16 ? " (it is UTF-16: save it as UTF-8)" : ""}`] };
  }
  return loadConfig(text, { env, baseDir: dirname(resolve(path)) });
}


function parseToml(text: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  try {
    return { ok: true, value: Bun.TOML.parse(text) };
  } catch (err) {
    // Bun's message may quote the offending text (`Strings must be quoted: "s3cr3t"`),
    // which may be a secret: keep only the reason, and find the line ourselves.
    const reason = String((err as Error).message ?? err)
      .replace(/^TOML Parse error:\s*/, "")
      .replace(/:\s*".*$/, "")
      // "found (0x0A)": the byte named as a reader knows it.
      .replace(/found \(0x0A\)/, "found the end of the line")
      .replace(/found \(0x09\)/, "found a tab");
    // A CRLF file's lines each end in "\r", which a prefix ending there does not parse past.
    const lines = text.split(/\r?\n/);
    let line = 0;
    for (let n = 1; n <= lines.length; n++) {
      try {
        Bun.TOML.parse(lines.slice(0, n).join("\n"));
      } catch {
        line = n;
        break;
      }
    }
    return { ok: false, problem: `config: invalid TOML${line ? ` near line ${line}` : ""}: ${reason}` };
  }
}

/** Tokens that guard a listener reachable from other hosts must be at least this long (SPEC "Hardening rules"). */
const MIN_TOKEN_CHARS = 16;

/** A parse result: `value` holds every part that parsed, also when `ok` is false. */
type Parsed<T> = { ok: boolean; value: T | undefined };

/** The entries of the strict table `schema` is (through `optional`), or null for any other schema. */
function tableEntries(schema: v.GenericSchema): Record<string, v.GenericSchema> | null {
  let inner = schema as v.GenericSchema & { wrapped?: v.GenericSchema; entries?: Record<string, v.GenericSchema> };
  while (inner.type === "optional" && inner.wrapped) inner = inner.wrapped;
  return inner.type === "strict_object" && inner.entries ? inner.entries : null;
}

/** True when a Standard Webhooks secret is whsec_ + base64 of at least 16 bytes. */
export function isValidSigningSecret(secret: string): boolean {
  return secret.startsWith("whsec_") && (decodeKey(secret, "base64")?.length ?? 0) >= 16;
}


/**
 * Where each key of the config lives (`retention` → "[store]", `schedule` →
 * "[[targets]] retry"): a known key in the wrong table (a line appended after
 * a `[[routes]]` table belongs to it in TOML) is pointed to its place.
 */
function keyHomes(schemas: Schemas): Map<string, string[]> {
  const homes = new Map<string, string[]>();
  const add = (key: string, home: string) => homes.set(key, [...new Set([...(homes.get(key) ?? []), home])]);
  const walk = (schema: v.GenericSchema, home: string, depth: number) => {
    for (const [key, entry] of Object.entries(tableEntries(schema) ?? {})) {
      add(key, home);
      if (depth === 0) walk(entry, `${home} ${key}`, 1);
    }
  };
  const tables: [v.GenericSchema, string][] = [
    [schemas.server, "[server]"], [schemas.store, "[store]"], [schemas.admin, "[admin]"], [schemas.alerts, "[alerts]"],
    [schemas.source, "[[sources]]"], [schemas.target, "[[targets]]"], [schemas.route, "[[routes]]"],
  ];
  for (const [schema, home] of tables) walk(schema, home, 0);
  for (const key of ["preset", "scheme", "secret", "tolerance", "header", "algorithm", "encoding", "prefix", "signed", "timestamp_header", "timestamp_format", "secret_encoding", "id_header", "url", "username"]) add(key, "[[sources]] verify");
  add("log_level", "the top level (before the first [table])");
  return homes;
}

/** Where a key unknown at `path` belongs, as " (it belongs in …)", or "". */
function belongsElsewhere(homes: Map<string, string[]>, key: string, path: Path): string {
  const here = path.filter((p) => typeof p === "string").join(".");
  const places = (homes.get(key) ?? []).filter((home) => home.replace(/[[\]]/g, "").replace(" ", ".") !== here);
  return places.length === 0 ? "" : ` (it belongs in ${places.join(" or ")})`;
}

class ConfigBuilder {
  private problems: string[] = [];
  private warnings: string[] = [];
  private homes: Map<string, string[]>;

  constructor(private schemas: Schemas) {
    this.homes = keyHomes(schemas);
  }

  private report: Report = {
    problem: (path, message) => this.problem(path, message),
    warn: (path, message) => this.warnings.push(`${formatPath(path)}: ${message}`),
  };

  private problem(path: Path, message: string) {
    this.problems.push(`${formatPath(path)}: ${message}`);
  }

  /**
   * Parses `input` against `schema`; its issues become problems under `prefix`.
   * Strict tables are parsed key by key, so `value` holds every key that is
   * fine even when another one is not (`ok` false): the cross-field checks then
   * run in the same pass instead of after the schema problems are fixed.
   */
  private parse<S extends v.GenericSchema>(schema: S, input: unknown, prefix: Path): Parsed<v.InferOutput<S>> {
    const entries = tableEntries(schema);
    if (entries === null || !isTable(input)) return this.parseLeaf(schema, input, prefix);
    const value: Record<string, unknown> = {};
    let ok = true;
    // The keys as written first (problems in file order), then the ones left out (defaults, "required").
    const keys = [...Object.keys(input), ...Object.keys(entries).filter((key) => !(key in input))];
    for (const key of keys) {
      const entry = entries[key];
      if (entry === undefined) {
        this.problem([...prefix, key], `unknown key${didYouMean(key, Object.keys(entries)) || belongsElsewhere(this.homes, key, prefix)}`);
        ok = false;
      } else if (input[key] === undefined && entry.type !== "optional") {
        this.problem([...prefix, key], "required");
        ok = false;
      } else {
        const field = this.parse(entry, input[key], [...prefix, key]);
        if (field.value !== undefined) value[key] = field.value;
        ok &&= field.ok;
      }
    }
    return { ok, value: value as v.InferOutput<S> };
  }

  private parseLeaf<S extends v.GenericSchema>(schema: S, input: unknown, prefix: Path): Parsed<v.InferOutput<S>> {
    const result = v.safeParse(schema, input, { abortEarly: false });
    if (result.success) return { ok: true, value: result.output };
    for (const issue of result.issues) {
      const path = [...prefix, ...(issue.path ?? []).map((item) => item.key as string | number)];
      const objectIssue = issue.type === "strict_object" || issue.type === "object";
      let message = issue.message;
      if (objectIssue && issue.expected === "never") message = "unknown key";
      else if (objectIssue && issue.received === "undefined" && issue.path?.length) message = "required";
      this.problem(path, message);
    }
    return { ok: false, value: undefined };
  }

  build(input: unknown): LoadResult {
    const s = this.schemas;
    const root = this.parse(s.root, input, []);
    // Even when the top level has problems, keep checking the sections that are usable.
    const raw = isTable(input) ? input : {};
    const table = (key: string) => (isTable(raw[key]) || raw[key] === undefined ? (raw[key] ?? {}) : undefined);
    const list = (key: string) => (Array.isArray(raw[key]) ? (raw[key] as unknown[]) : []);
    const section = <S extends v.GenericSchema>(schema: S, key: string): Parsed<v.InferOutput<S>> =>
      table(key) === undefined ? { ok: false, value: undefined } : this.parse(schema, table(key), [key]);

    const server = section(s.server, "server");
    const store = section(s.store, "store");
    const admin = section(s.admin, "admin");
    const logLevel = this.parse(s.logLevel, raw.log_level, ["log_level"]);

    const rawSources = list("sources");
    const rawTargets = list("targets");
    const rawRoutes = list("routes");
    const sources = rawSources.map((item, i) => this.parse(s.source, item, ["sources", i]));
    const targets = rawTargets.map((item, i) => this.parse(s.target, item, ["targets", i]));
    const routes = rawRoutes.map((item, i) => this.parse(s.route, item, ["routes", i]));

    this.warnReferenceLookAlikes(raw, []);
    const rawAdmin = table("admin");
    // What was readable of [store]: a bad retention must not hide a password the url does not take.
    if (store.value) this.checkStore(store.value);
    this.checkServer(server.value ?? {}, rawAdmin?.token !== undefined, admin.value?.token);
    this.checkUniqueNames("sources", rawSources);
    this.checkUniqueNames("targets", rawTargets);
    checkReservedSourceNames(rawSources, (path, message) => this.problem(path, message));
    const rawAlerts = raw.alerts;
    const alerts = rawAlerts === undefined || table("alerts") === undefined ? null : this.parse(s.alerts, rawAlerts, ["alerts"]);
    // Partial: `to` is checked even when another key of [alerts] has a problem.
    const alertsConfig = alerts?.value?.to ? buildAlerts(alerts.value, rawAlerts, rawTargets, (path, message) => this.problem(path, message)) : null;

    const sourceConfigs = sources.map((src, i) => (src.value ? this.buildSource(src, i, server, rawSources[i]) : null));
    if (store.ok) this.warnRetentionOutlived(sourceConfigs, rawSources, store.value!.retention);
    // The overview sums a 5-minute step 5 minutes after it ends (store/overview.ts): from the raw rows.
    if (store.ok && store.value!.retention < OVERVIEW_NEEDS_MS) {
      this.warnings.push(
        `store.retention: ${durationText(store.value!.retention)} is shorter than the overview needs (${durationText(OVERVIEW_NEEDS_MS)}): ` +
          "its figures are summed from the stored events and attempts 5 minutes after each 5-minute step ends, and these would be gone",
      );
    }
    // The targets' success rate and the sources' recent counts are read from the stored rows (store/admin-stats.ts).
    if (store.ok && store.value!.retention < TARGET_STATS_WINDOW_MS) {
      const retention = store.value!.retention;
      const windows = retention < SOURCE_STATS_WINDOW_MS
        ? `the windows the targets' success rate (${durationText(TARGET_STATS_WINDOW_MS)}) and the sources' recent counts (${durationText(SOURCE_STATS_WINDOW_MS)}) are read over`
        : `the window the targets' success rate is read over (${durationText(TARGET_STATS_WINDOW_MS)})`;
      this.warnings.push(
        `store.retention: ${durationText(retention)} is shorter than ${windows}: ` +
          "they count only what retention keeps, and lean towards failures (a finished event goes with its attempts, an open delivery's failed attempts stay); /metrics counts everything",
      );
    }
    const targetConfigs = targets.map((tgt, i) => (tgt.value ? this.buildTarget(tgt, i, rawTargets[i], server.value?.listen) : null));
    const routeConfigs = this.buildRoutes(
      routes.map((r) => (r.ok ? r.value! : null)),
      rawRoutes,
      namesOf(rawSources),
      namesOf(rawTargets),
      new Set(alerts?.value?.to ?? []),
      new Set(sourceConfigs.filter((src) => src !== null && src.eventType.length === 0).map((src) => src!.name)),
    );

    if (this.problems.length > 0 || !root.ok || !server.ok || !store.ok || !admin.ok || !logLevel.ok || alerts?.ok === false) {
      return { ok: false, problems: this.problems, warnings: this.warnings };
    }
    const [srv, sto, adm] = [server.value!, store.value!, admin.value!];
    return {
      ok: true,
      warnings: this.warnings,
      config: {
        server: {
          listen: srv.listen,
          adminListen: srv.admin_listen,
          publicUrl: srv.public_url ?? null,
          maxBodyBytes: srv.max_body,
          readTimeoutMs: srv.read_timeout,
          maxInflightBytes: srv.max_inflight,
          trustedProxies: srv.trusted_proxies ?? [],
        },
        store: {
          url: sto.url,
          ...(sto.password !== undefined ? { password: sto.password } : {}),
          retentionMs: sto.retention,
          busyTimeoutMs: sto.busy_timeout,
          search: sto.search,
          ...(sto.archive ? { archiveDir: sto.archive } : {}),
        },
        admin: { token: adm.token ?? null },
        logLevel: logLevel.value!,
        sources: sourceConfigs as SourceConfig[],
        targets: targetConfigs as TargetConfig[],
        routes: routeConfigs,
        alerts: alertsConfig,
      },
    };
  }

  /** Keys of [store] that only one kind of store takes. */
  private checkStore(store: { url?: string; password?: string; archive?: string }) {
    // Made when retention first archives; a file in its place would fail only then (nothing is
    // purged meanwhile, but nothing is archived either).
    if (store.archive !== undefined && existsSync(store.archive) && !statSync(store.archive).isDirectory())
      this.problem(["store", "archive"], `expected a directory, but ${resolve(store.archive)} is a file`);
    if (store.url === undefined) return; // its own problem is said already
    const postgres = isPostgresStoreUrl(store.url);
    if (store.password !== undefined && !postgres) this.problem(["store", "password"], "only a postgres:// store.url takes a password");
    if (postgres && urlHasPassword(store.url)) {
      this.warnings.push("store.url: carries a password; put it in store.password (env:NAME or file:/path) to keep it out of the config file");
    }
  }

  private checkServer(server: Partial<RawServer>, adminTokenSet: boolean, adminToken: string | undefined) {
    const { listen, admin_listen: adminListen } = server;
    if (adminListen && !isLoopback(adminListen.host)) {
      const where = `when server.admin_listen (${showAddress(adminListen)}) is not a loopback address`;
      if (!adminTokenSet) this.problem(["admin", "token"], `required ${where}`);
      else if (adminToken !== undefined && adminToken.length < MIN_TOKEN_CHARS) {
        this.problem(["admin", "token"], `expected at least ${MIN_TOKEN_CHARS} characters ${where}`);
      }
    }
    const wildcard = (h: string) => h === "0.0.0.0" || h === "::";
    if (
      listen &&
      adminListen &&
      listen.port !== 0 &&
      listen.port === adminListen.port &&
      (listen.host === adminListen.host || wildcard(listen.host) || wildcard(adminListen.host))
    ) {
      this.problem(["server", "admin_listen"], `same port as server.listen (${showAddress(listen)}); the admin side must be separate`);
    }
    // Partial: a key whose value failed has its problem already.
    if (server.max_inflight !== undefined && server.max_body !== undefined && server.max_inflight < server.max_body) {
      this.problem(
        ["server", "max_inflight"],
        `${server.max_inflight} bytes is less than server.max_body (${server.max_body} bytes); a body that size would always get 503`,
      );
    }
  }

  private checkUniqueNames(section: "sources" | "targets", items: unknown[]) {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const name = isTable(item) ? item.name : undefined;
      if (typeof name !== "string") return;
      const first = seen.get(name);
      if (first === undefined) seen.set(name, i);
      else this.problem([section, i, "name"], `duplicate name "${name}" (also ${section}[${first}])`);
    });
  }

  private buildSource(src: Parsed<RawSource>, i: number, server: Parsed<RawServer>, rawItem: unknown): SourceConfig | null {
    const at = (...keys: string[]): Path => ["sources", i, "verify", ...keys];
    const value = src.value!;
    // A verify table that is not a table at all has its problem already.
    if (value.verify === undefined) return null;
    const verify = buildVerifySpec(value, at, server.value?.public_url, server.ok, rawItem, this.report);
    if (!verify || !src.ok) return null;
    // A key read as text is used as written; an encoded one (Standard Webhooks, secret_encoding) is decoded, whitespace aside.
    const encoded = (verify.kind === "preset" && (verify.preset === "standard-webhooks" || verify.preset === "svix")) || (verify.kind === "hmac" && (verify.secretEncoding ?? "utf8") !== "utf8");
    if ("secrets" in verify && !encoded) this.warnPaddedSecrets(verify.secrets, at("secret"));
    if (verify.kind === "preset" && (verify.preset === "standard-webhooks" || verify.preset === "svix") && !this.base64Secrets(verify.secrets, at("secret"), rawItem)) return null;
    if (verify.kind === "preset" && verify.preset === "stripe") this.warnNotStripeSigningSecrets(verify.secrets, at("secret"));
    this.warnUnforwardable(value.forward_headers ?? [], ["sources", i, "forward_headers"]);
    // The source's own credential header is stored redacted: forwarded, the target would get the placeholder.
    const credentials = credentialHeaders(verify);
    const redacted = (value.forward_headers ?? []).filter((n) => credentials.includes(n.toLowerCase()));
    if (redacted.length > 0) {
      this.report.warn(["sources", i, "forward_headers"], `${redacted.join(", ")} carries this source's secret and is stored redacted: the target would get "[redacted: N chars]", not the value; give the target its own credentials (targets' auth)`);
    }
    // What config leaves out comes from the preset, here and only here.
    const preset = verify.kind === "preset" ? presetDefaults(verify.preset) : { dedupe: [], eventType: [], forwardHeaders: [] };
    const dedupeWindowMs = value.dedupe?.window ?? defaultMs(DEFAULTS.source.dedupe_window);
    this.warnReplayOutlastsDedupe(verify, dedupeWindowMs, ["sources", i, "dedupe", "window"]);
    return {
      name: value.name,
      verify,
      dedupeKeys: value.dedupe?.key ?? preset.dedupe,
      dedupeWindowMs,
      eventType: value.event_type ?? preset.eventType,
      forwardHeaders: value.forward_headers ?? preset.forwardHeaders,
      allowIps: value.allow_ips ?? null,
      ...(value.verify_token !== undefined ? { verifyToken: value.verify_token } : {}),
    };
  }

  /**
   * A Standard Webhooks (Svix) secret is base64, with or without `whsec_`: its
   * decoded bytes are the key. Anything else would be decoded leniently into
   * some other key, and every request rejected with no hint why.
   */
  private base64Secrets(secrets: string[], path: Path, rawItem: unknown): boolean {
    const raw = isTable(rawItem) && isTable(rawItem.verify) ? rawItem.verify.secret : undefined;
    let ok = true;
    secrets.forEach((secret, n) => {
      if (decodeKey(secret, "base64") !== null) return;
      // Never show the secret: say what it should look like.
      this.problem(Array.isArray(raw) ? [...path, n] : path, 'expected the provider\'s signing secret as given: "whsec_" followed by base64 (or the base64 alone)');
      ok = false;
    });
    return ok;
  }

  /**
   * Stripe signs with the endpoint's signing secret, which starts with `whsec_`; its API keys
   * (`sk_`, `rk_`) are the usual thing pasted instead, and every request is then a mismatch.
   * A warning, not a problem: the secret is used as written. Never shows the secret.
   */
  private warnNotStripeSigningSecrets(secrets: string[], path: Path): void {
    secrets.forEach((secret, n) => {
      if (secret.trim().startsWith("whsec_")) return;
      const apiKey = /^\s*(?:sk|rk|pk)_/.test(secret) ? " (this looks like an API key, which cannot verify a webhook)" : "";
      this.report.warn(secrets.length > 1 ? [...path, n] : path, `Stripe's webhook signing secret starts with "whsec_": the endpoint's "Signing secret" in the Dashboard, or the one \`stripe listen\` prints${apiKey}`);
    });
  }

  /** A secret with whitespace at either end (a line break from an env var, a stray space): used as written, so a provider's signature will not match. */
  private warnPaddedSecrets(secrets: string[], path: Path): void {
    const padded = secrets.flatMap((secret, n) => (secret !== secret.trim() ? [n] : []));
    for (const n of padded) {
      const where = secrets.length > 1 ? [...path, n] : path;
      this.report.warn(where, "starts or ends with whitespace (a line break from an env var or a copy and paste?); it is used as written, and the provider signs with the secret without it");
    }
  }

  /**
   * Every value of a key that takes a secret (SECRET_KEYS, a target's header values) that looks
   * like a mistyped secret reference (secret-ref.ts). Elsewhere `$push` or `Env: prod` are values.
   */
  private warnReferenceLookAlikes(value: unknown, path: Path): void {
    if (typeof value === "string") {
      const why = takesSecret(path) ? referenceLookAlike(value) : null;
      if (why) this.report.warn(path, why);
    } else if (Array.isArray(value)) value.forEach((item, i) => this.warnReferenceLookAlikes(item, [...path, i]));
    else if (isTable(value)) for (const [key, item] of Object.entries(value)) this.warnReferenceLookAlikes(item, [...path, key]);
  }

  /** forward_headers names that are never forwarded (core/forward-headers.ts), said rather than dropped in silence. */
  private warnUnforwardable(names: string[], path: Path): void {
    const never = names.filter((n) => !isForwardableHeader(n) && !ALWAYS_SENT_HEADERS.includes(n.toLowerCase()));
    if (never.length > 0) {
      this.report.warn(path, `never forwarded, whatever this says: ${never.join(", ")} (hop-by-hop, the inbound request's own, a credential for the relay, or set by hookrelay on every delivery)`);
    }
  }

  private buildTarget(parsed: Parsed<RawTarget>, i: number, rawItem: unknown, listen: ListenAddress | undefined): TargetConfig | null {
    const at = (...keys: (string | number)[]): Path => ["targets", i, ...keys];
    const raw = isTable(rawItem) ? rawItem : {};
    // Partial when parsed.ok is false: every check below reads only keys it finds.
    const tgt = parsed.value!;
    let ok = parsed.ok;
    if (tgt.kind === "push") {
      if (!("url" in raw)) {
        this.problem(at("url"), "required for push targets");
        ok = false;
      }
      if ("token" in raw) {
        this.problem(at("token"), 'only used by kind = "listen" targets');
        ok = false;
      }
    } else if (tgt.kind === "listen") {
      if (!("token" in raw)) {
        this.problem(at("token"), 'required for kind = "listen" targets (the token `hookrelay listen` presents)');
        ok = false;
      }
      if ("url" in raw) {
        this.problem(at("url"), 'not used by kind = "listen" targets: `hookrelay listen` pulls their deliveries');
        ok = false;
      }
      // The listen endpoint is on the public listener: a short token there can be guessed.
      if (tgt.token !== undefined && tgt.token.length < MIN_TOKEN_CHARS && listen && !isLoopback(listen.host)) {
        this.problem(at("token"), `expected at least ${MIN_TOKEN_CHARS} characters when server.listen (${showAddress(listen)}) is not a loopback address`);
        ok = false;
      }
    }
    const signingSecrets = tgt.signing?.secret ?? [];
    const rawSecret = isTable(raw.signing) ? raw.signing.secret : undefined;
    signingSecrets.forEach((secret, k) => {
      if (!isValidSigningSecret(secret)) {
        const path = Array.isArray(rawSecret) ? at("signing", "secret", k) : at("signing", "secret");
        // Never show the secret: describe what is expected instead.
        this.problem(path, 'expected "whsec_" followed by base64 of at least 16 random bytes');
        ok = false;
      }
    });
    // A fresh event's first attempt goes at once (ingest writes it due, or sends it from memory).
    if ((tgt.retry?.schedule?.[0] ?? 0) > 0) {
      this.report.warn(at("retry", "schedule", 0), `the first attempt goes at once: a first delay of ${durationText(tgt.retry.schedule[0]!)} is not applied (write "0s"; the later entries are the retries' delays)`);
    }
    // The timeout bounds a whole attempt, connecting included (delivery/sender.ts).
    if (raw.connect_timeout !== undefined && tgt.connect_timeout > tgt.timeout) {
      this.report.warn(at("connect_timeout"), `is longer than timeout (${durationText(tgt.timeout)}), which bounds the whole attempt, connecting included`);
    }
    if (tgt.ordered && raw.concurrency !== undefined && tgt.concurrency !== 1) {
      this.report.warn(at("concurrency"), "has no effect with ordered = true (one delivery at a time)");
    }
    if (!checkTargetCredentials(tgt, raw, at, (path, message) => this.problem(path, message))) ok = false;
    // A Slack or Mattermost incoming webhook checks no signature (its URL is the credential): no warning for it.
    if (!("signing" in raw) && tgt.format !== "slack") {
      this.warnings.push(`${formatPath(at("signing"))}: no signing secret; deliveries carry no webhook-signature`);
    }
    if (!ok) return null;
    const retry = tgt.retry;
    return {
      name: tgt.name,
      kind: tgt.kind,
      url: tgt.url?.url ?? "",
      ...(tgt.url?.secret ? { urlIsSecret: true } : {}),
      signingSecrets,
      token: tgt.token ?? null,
      timeoutMs: tgt.timeout,
      connectTimeoutMs: tgt.connect_timeout,
      retry: {
        scheduleMs: retry.schedule,
        jitter: retry.jitter,
      },
      concurrency: tgt.concurrency,
      ratePerSec: tgt.rate ?? null,
      ordered: tgt.ordered,
      disableAfterMs: tgt.disable_after,
      enabled: tgt.enabled,
      ...targetCredentials(tgt),
      format: tgt.format,
    };
  }

  /**
   * A signed request captured on its way is accepted again for as long as
   * its timestamp is within the tolerance; only dedupe then tells it from a
   * new event. A window shorter than the tolerance lets a replay between the
   * two through as a new event, forwarded again.
   */
  private warnReplayOutlastsDedupe(verify: VerifySpec, dedupeWindowMs: number, path: Path): void {
    // The tolerance holds both ways: a timestamp ahead of the relay's clock by the tolerance stays
    // valid until it is as far behind, twice the tolerance after the first copy came.
    if (!checksTimestamp(verify) || !("toleranceSec" in verify) || dedupeWindowMs >= 2 * verify.toleranceSec * 1000) return;
    this.report.warn(
      path,
      `${durationText(dedupeWindowMs)} is shorter than twice verify.tolerance (${durationText(verify.toleranceSec * 1000)}): a signed request stays valid for up to twice the tolerance ` +
        "(its timestamp may be ahead of the relay's clock by as much as behind it), and a replay after the window but within that is accepted as a new event and forwarded again; " +
        `a window of at least ${durationText(2 * verify.toleranceSec * 1000)} answers every replay as a duplicate`,
    );
  }

  /**
   * Retention keeps an event while it can still be a dedupe original: a source whose
   * window outlives `store.retention` keeps its raw requests that long. Said, because
   * the window is usually a default and a short retention is usually meant for privacy.
   */
  private warnRetentionOutlived(sources: (SourceConfig | null)[], raw: unknown[], retentionMs: number): void {
    sources.forEach((src, i) => {
      if (!src || src.dedupeWindowMs <= retentionMs) return;
      const item = raw[i];
      const set = isTable(item) && isTable(item.dedupe) && item.dedupe.window !== undefined;
      this.warnings.push(
        `sources[${i}].dedupe.window: ${durationText(src.dedupeWindowMs)}${set ? "" : " (the default)"} is longer than store.retention (${durationText(retentionMs)}): ` +
          `source "${src.name}" keeps its events, body and headers included, ${durationText(src.dedupeWindowMs)} so that a late duplicate is still recognised; ` +
          `a window no longer than the retention keeps them no longer`,
      );
    });
  }

  private buildRoutes(
    routes: (v.InferOutput<Schemas["route"]> | null)[],
    rawRoutes: unknown[],
    sourceNames: Set<string>,
    targetNames: Set<string>,
    /** Targets that get events without a route (alert targets). */
    unrouted: Set<string>,
    /** Sources that read no event type: their events are untyped. */
    untyped: Set<string>,
  ): RouteConfig[] {
    const out: RouteConfig[] = [];
    const routedSources = new Set<string>();
    const routedTargets = new Set<string>();
    routes.forEach((route, i) => {
      const raw = rawRoutes[i];
      const toIsList = isTable(raw) && Array.isArray(raw.to);
      // What the route names is checked even when it has a problem of its own (every problem at
      // once), and counts as routed: no "no route" warning on top.
      const from = route?.from ?? (isTable(raw) && typeof raw.from === "string" ? raw.from : null);
      const to = route?.to ?? (isTable(raw) ? [raw.to].flat() : []);
      // A list in `from` (one source a route; its problem is said already) still names its sources.
      if (isTable(raw) && Array.isArray(raw.from)) for (const name of raw.from) if (typeof name === "string") routedSources.add(name);
      let ok = route !== undefined;
      if (from !== null) {
        routedSources.add(from);
        if (!sourceNames.has(from)) {
          this.problem(["routes", i, "from"], `no source named "${from}"`);
          ok = false;
        }
      }
      to.forEach((name, k) => {
        if (typeof name !== "string") return;
        routedTargets.add(name);
        if (!targetNames.has(name)) {
          this.problem(toIsList ? ["routes", i, "to", k] : ["routes", i, "to"], `no target named "${name}"`);
          ok = false;
        }
      });
      if (!route) return;
      // A route by event type from a source that reads none takes nothing: every event arrives untyped.
      if (route.event_types && untyped.has(route.from))
        this.warnings.push(`routes[${i}].event_types: source "${route.from}" reads no event type (set its event_type), so its events are untyped and this route takes none of them`);
      if (ok) out.push({ from: route.from, to: [...new Set(route.to)], eventTypes: route.event_types ?? null, ...(route.filter && { filter: route.filter }) });
    });
    for (const name of sourceNames) {
      if (!routedSources.has(name)) this.warnings.push(`source "${name}": no route; its events are stored but not forwarded`);
    }
    for (const name of targetNames) {
      if (!routedTargets.has(name) && !unrouted.has(name)) this.warnings.push(`target "${name}": no route sends to it`);
    }
    return out;
  }
}


function namesOf(items: unknown[]): Set<string> {
  const names = new Set<string>();
  for (const item of items) if (isTable(item) && typeof item.name === "string") names.add(item.name);
  return names;
}


function showAddress(addr: ListenAddress): string {
  return addr.host.includes(":") ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}
