/**
 * The verify table of a source → a VerifySpec (core/types.ts). Which keys each
 * preset or scheme takes, and what it requires, lives here.
 */
import type { VerifySpec } from "../core/types.ts";
import { decodeKey, presetSigns } from "../core/verify/index.ts";
import { DEFAULTS, defaultMs } from "./defaults.ts";
import { isTable, type Path } from "./key-path.ts";
import type { RawSource } from "./schema.ts";

/** Where builders send what they find: problems fail the load, warnings do not. */
export interface Report {
  problem(path: Path, message: string): void;
  warn(path: Path, message: string): void;
}

const TEMPLATE_FIELDS = new Set(["body", "timestamp", "id", "url"]);

/**
 * Builds a source's VerifySpec from its verify table: exactly one of preset or
 * scheme, only the keys that kind uses, the secrets and headers it needs, and
 * a warning for keys that would have no effect. `src.verify` may lack keys whose
 * value was wrong (already reported): a key counts as set when the raw table has it.
 * Problems and warnings go to `report`; null when there were problems.
 */
export function buildVerifySpec(
  src: Pick<Partial<RawSource>, "name"> & { verify: Partial<RawSource["verify"]> },
  at: (...keys: string[]) => Path,
  publicUrl: string | undefined,
  serverKnown: boolean,
  rawItem: unknown,
  report: Report,
): VerifySpec | null {
  const vf = src.verify;
  // Look at the raw table: a key whose value failed to parse or resolve is still "set".
  const rawVerify: Record<string, unknown> = isTable(rawItem) && isTable(rawItem.verify) ? rawItem.verify : vf;
  const isSet = (key: string) => rawVerify[key] !== undefined;
  if (isSet("preset") && isSet("scheme")) {
    report.problem(at(), "set either preset or scheme, not both");
    return null;
  }
  if (!isSet("preset") && !isSet("scheme")) {
    report.problem(at(), 'expected a preset (like preset = "stripe") or a scheme (hmac, shared-secret, basic, none)');
    return null;
  }
  // An unknown preset or scheme (reported with its suggestion): which keys it takes is unknown.
  if (vf.preset === undefined && vf.scheme === undefined) return null;
  const kind = vf.preset !== undefined ? "preset" : vf.scheme!;
  const label = vf.preset !== undefined ? `preset "${vf.preset}"` : `scheme ${vf.scheme}`;
  const allowed: Record<string, string[]> = {
    preset: ["preset", "secret", "tolerance", "url"],
    hmac: ["scheme", "header", "algorithm", "encoding", "prefix", "signed", "secret", "secret_encoding", "timestamp_header", "timestamp_format", "id_header", "tolerance", "url"],
    "shared-secret": ["scheme", "header", "secret"],
    basic: ["scheme", "username", "secret"],
    none: ["scheme"],
  };
  let ok = true;
  const known = new Set(Object.values(allowed).flat());
  for (const key of Object.keys(rawVerify)) {
    // An unknown key (`secert`) is reported as such, with its suggestion.
    if (isSet(key) && known.has(key) && !allowed[kind]!.includes(key)) {
      report.problem(at(key), `not used by ${label}`);
      ok = false;
    }
  }
  if (kind === "none") {
    report.warn(at(), "scheme none accepts unsigned requests");
    return ok ? { kind: "none" } : null;
  }
  const secrets = vf.secret;
  if (secrets === undefined) {
    if (!isSet("secret")) report.problem(at("secret"), `required for ${label}`);
    ok = false;
  }
  // Set, but unused by what was chosen: not an error (the config still means something), but said.
  const noEffect = (key: string, why: string) => {
    if (vf[key as keyof typeof vf] !== undefined) report.warn(at(key), `has no effect: ${why}`);
  };
  const toleranceSec = (vf.tolerance ?? defaultMs(DEFAULTS.source.tolerance)) / 1000;
  // The URL a provider signs: verify.url as written, or built per request from server.public_url
  // and the path and query the request came with (ingest.ts providerUrl: a trailing slash the
  // provider registered included).
  const derivedUrl = (why: string): string | undefined => {
    const url = vf.url;
    // Without a parsed [server] we cannot know public_url: its problem is already reported.
    // An invalid verify.url is reported as such: "set verify.url" would read as if it were missing.
    if (url === undefined && publicUrl === undefined && serverKnown && !isSet("url")) {
      report.warn(
        at("url"),
        `${why}; set verify.url or server.public_url: without either the URL the relay was reached at is checked, which is not the one the provider signed behind a proxy, a TLS terminator or a port mapping`,
      );
    }
    return url;
  };

  if (kind === "preset") {
    // What the preset's signature covers (core/verify/presets.ts): tolerance and url matter only if it does.
    const signs = presetSigns(vf.preset!);
    if (!signs.timestamp) noEffect("tolerance", `${label} signs no timestamp`);
    if (!signs.url) noEffect("url", `${label} does not sign the URL`);
    const url = signs.url ? derivedUrl(`${label} signs the public URL`) : vf.url;
    return ok ? { kind: "preset", preset: vf.preset!, secrets: secrets!, toleranceSec, ...(url ? { url } : {}) } : null;
  }
  if (kind === "shared-secret" || kind === "hmac") {
    if (!isSet("header")) {
      report.problem(at("header"), `required for ${label}`);
      ok = false;
    }
  }
  if (kind === "shared-secret") return ok ? { kind, header: vf.header!, secrets: secrets! } : null;
  if (kind === "basic") {
    if (!isSet("username")) {
      report.problem(at("username"), `required for ${label}`);
      ok = false;
    }
    return ok ? { kind, username: vf.username!, secrets: secrets! } : null;
  }

  // hmac. A `signed` that is not a string is reported already; its placeholders are unknown.
  if (isSet("signed") && vf.signed === undefined) return null;
  const signed = vf.signed ?? DEFAULTS.hmac.signed;
  for (const [, field] of signed.matchAll(/\{([^}]*)\}/g)) {
    if (!TEMPLATE_FIELDS.has(field!)) {
      report.problem(at("signed"), `unknown placeholder {${field}}; expected {body}, {timestamp}, {id} or {url}`);
      ok = false;
    }
  }
  if (signed.includes("{timestamp}") && !isSet("timestamp_header")) {
    report.problem(at("timestamp_header"), "required when signed uses {timestamp}");
    ok = false;
  }
  if (signed.includes("{id}") && !isSet("id_header")) {
    report.problem(at("id_header"), "required when signed uses {id}");
    ok = false;
  }
  // The timestamp header alone turns the tolerance check on (core/verify/generic.ts).
  if (vf.tolerance !== undefined && !isSet("timestamp_header")) report.warn(at("tolerance"), "has no effect without timestamp_header");
  if (!isSet("timestamp_header")) noEffect("timestamp_format", "no timestamp_header");
  // A decoder skips what it cannot read: a mistyped key would verify nothing, in silence.
  const secretEncoding = vf.secret_encoding ?? "utf8";
  (secrets ?? []).forEach((secret, n) => {
    if (secretEncoding === "utf8" || decodeKey(secret, secretEncoding) !== null) return;
    report.problem((secrets?.length ?? 0) > 1 ? [...at("secret"), n] : at("secret"), `is not ${secretEncoding === "hex" ? "hex (pairs of 0-9, a-f)" : "standard base64 (a whsec_ prefix allowed)"}, as secret_encoding says`);
    ok = false;
  });
  if (!signed.includes("{url}")) noEffect("url", "signed does not use {url}");
  if (!signed.includes("{id}")) noEffect("id_header", "signed does not use {id}");
  const url = signed.includes("{url}") ? derivedUrl("signed uses {url}") : vf.url;
  if (!ok) return null;
  return {
    kind: "hmac",
    header: vf.header!,
    algorithm: vf.algorithm ?? DEFAULTS.hmac.algorithm,
    encoding: vf.encoding ?? DEFAULTS.hmac.encoding,
    prefix: vf.prefix ?? DEFAULTS.hmac.prefix,
    signed,
    secrets: secrets!,
    ...(vf.timestamp_header ? { timestampHeader: vf.timestamp_header } : {}),
    ...(vf.timestamp_format ? { timestampFormat: vf.timestamp_format } : {}),
    ...(vf.secret_encoding ? { secretEncoding: vf.secret_encoding } : {}),
    ...(vf.id_header ? { idHeader: vf.id_header } : {}),
    toleranceSec,
    ...(url ? { url } : {}),
  };
}
