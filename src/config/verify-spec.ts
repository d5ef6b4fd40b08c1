/**
 * The verify table of a source → a VerifySpec (core/types.ts). Which keys each
 * preset or scheme takes, and what it requires, lives here.
 */
import type { VerifySpec } from "../core/types.ts";
import { DEFAULTS, defaultMs } from "./defaults.ts";
import { isTable, type Path } from "./key-path.ts";
import type { RawSource } from "./schema.ts";

/** Where builders send what they find: problems fail the load, warnings do not. */
export interface Report {
  problem(path: Path, message: string): void;
  warn(path: Path, message: string): void;
}

const TEMPLATE_FIELDS = new Set(["body", "timestamp", "id", "url"]);
// Presets whose providers sign the URL they called, so we must know it.
const URL_SIGNING_PRESETS = new Set(["twilio", "square"]);

/**
 * Builds a source's VerifySpec from its verify table: exactly one of preset or
 * scheme, only the keys that kind uses, the secrets and headers it needs.
 * Problems and warnings go to `report`; null when there were problems.
 */
export function buildVerifySpec(
  src: RawSource,
  at: (...keys: string[]) => Path,
  publicUrl: string | undefined,
  serverKnown: boolean,
  rawItem: unknown,
  report: Report,
): VerifySpec | null {
  const vf = src.verify;
  if (vf.preset !== undefined && vf.scheme !== undefined) {
    report.problem(at(), "set either preset or scheme, not both");
    return null;
  }
  if (vf.preset === undefined && vf.scheme === undefined) {
    report.problem(at(), 'expected a preset (like preset = "stripe") or a scheme (hmac, shared-secret, basic, none)');
    return null;
  }
  const kind = vf.preset !== undefined ? "preset" : vf.scheme!;
  const label = vf.preset !== undefined ? `preset "${vf.preset}"` : `scheme ${vf.scheme}`;
  const allowed: Record<string, string[]> = {
    preset: ["preset", "secret", "tolerance", "url"],
    hmac: ["scheme", "header", "algorithm", "encoding", "prefix", "signed", "secret", "timestamp_header", "id_header", "tolerance", "url"],
    "shared-secret": ["scheme", "header", "secret"],
    basic: ["scheme", "username", "secret"],
    none: ["scheme"],
  };
  let ok = true;
  // Look at the raw table: a key whose value failed to resolve is still "set".
  const rawVerify = isTable(rawItem) && isTable(rawItem.verify) ? rawItem.verify : vf;
  for (const key of Object.keys(rawVerify)) {
    if (rawVerify[key as keyof typeof rawVerify] !== undefined && !allowed[kind]!.includes(key)) {
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
    if (!("secret" in rawVerify)) report.problem(at("secret"), `required for ${label}`);
    ok = false;
  }
  const toleranceSec = (vf.tolerance ?? defaultMs(DEFAULTS.source.tolerance)) / 1000;
  const derivedUrl = (why: string): string | undefined => {
    const url = vf.url ?? (publicUrl ? `${publicUrl}/in/${src.name}` : undefined);
    // Without a parsed [server] we cannot know public_url: its problem is already reported.
    if (url === undefined && serverKnown) {
      report.warn(at("url"), `${why}; set verify.url or server.public_url, or every request will fail verification`);
    }
    return url;
  };

  if (kind === "preset") {
    const url = URL_SIGNING_PRESETS.has(vf.preset!) ? derivedUrl(`${label} signs the public URL`) : vf.url;
    return ok ? { kind: "preset", preset: vf.preset!, secrets: secrets!, toleranceSec, ...(url ? { url } : {}) } : null;
  }
  if (kind === "shared-secret" || kind === "hmac") {
    if (vf.header === undefined) {
      report.problem(at("header"), `required for ${label}`);
      ok = false;
    }
  }
  if (kind === "shared-secret") return ok ? { kind, header: vf.header!, secrets: secrets! } : null;
  if (kind === "basic") {
    if (vf.username === undefined) {
      report.problem(at("username"), `required for ${label}`);
      ok = false;
    }
    return ok ? { kind, username: vf.username!, secrets: secrets! } : null;
  }

  // hmac
  const signed = vf.signed ?? DEFAULTS.hmac.signed;
  for (const [, field] of signed.matchAll(/\{([^}]*)\}/g)) {
    if (!TEMPLATE_FIELDS.has(field!)) {
      report.problem(at("signed"), `unknown placeholder {${field}}; expected {body}, {timestamp}, {id} or {url}`);
      ok = false;
    }
  }
  if (signed.includes("{timestamp}") && vf.timestamp_header === undefined) {
    report.problem(at("timestamp_header"), "required when signed uses {timestamp}");
    ok = false;
  }
  if (signed.includes("{id}") && vf.id_header === undefined) {
    report.problem(at("id_header"), "required when signed uses {id}");
    ok = false;
  }
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
    ...(vf.id_header ? { idHeader: vf.id_header } : {}),
    toleranceSec,
    ...(url ? { url } : {}),
  };
}
