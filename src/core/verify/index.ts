/**
 * Inbound signature verification: one verifier per source, built once from a
 * resolved VerifySpec and called with the raw request and an injected clock.
 * Expected failures are values (`{ ok: false, reason }`), never exceptions.
 */
import type { InboundRequest, PresetDefaults, PresetName, VerifyResult, VerifySpec } from "../types.ts";
import { basicVerifier, hmacVerifier, noneVerifier, sharedSecretVerifier } from "./generic.ts";
import { PRESET_TABLE } from "./presets.ts";

export { answerGetChallenge, answerHandshake, type HandshakeResponse } from "./handshake.ts";
export type { Verifier } from "./result.ts";
export { decodeKey } from "./hmac.ts";

/**
 * Build the verifier for a source. Throws only for a broken spec (an unknown
 * template placeholder, `{timestamp}` without a timestamp header), so config
 * errors surface at start rather than on every request.
 *
 * @example
 * const verify = buildVerifier({ kind: "preset", preset: "github", secrets: ["s"], toleranceSec: 300 });
 * verify(req, clock.nowMs()) // { ok: true } or { ok: false, reason: "bad_signature" }
 */
export function buildVerifier(spec: VerifySpec): (req: InboundRequest, nowMs: number) => VerifyResult {
  switch (spec.kind) {
    case "preset":
      return PRESET_TABLE[spec.preset].build(spec);
    case "hmac":
      return hmacVerifier(spec);
    case "shared-secret":
      return sharedSecretVerifier(spec.header, spec.secrets);
    case "basic":
      return basicVerifier(spec.username, spec.secrets);
    case "none":
      return noneVerifier();
  }
}

/** The provider's natural dedupe key, event type and forwarded headers (a fresh copy). */
export function presetDefaults(preset: PresetName): PresetDefaults {
  return structuredClone(PRESET_TABLE[preset].defaults);
}

/** Whether a preset's signature covers a timestamp (so `tolerance` applies) and the URL (so it needs the public URL). */
export function presetSigns(preset: PresetName): { timestamp: boolean; url: boolean } {
  const signs = PRESET_TABLE[preset].signs;
  return { timestamp: signs?.timestamp === true, url: signs?.url === true };
}

/** Whether `spec` checks a signed timestamp against its tolerance: a preset that signs one, or hmac with a timestamp header (generic.ts). */
export function checksTimestamp(spec: VerifySpec): boolean {
  if (spec.kind === "preset") return presetSigns(spec.preset).timestamp;
  return spec.kind === "hmac" && spec.timestampHeader !== undefined;
}

/**
 * Lower-cased names of the headers that carry this scheme's secret as a plain
 * value (a shared-secret header, Basic credentials, a preset's token header).
 * Signature headers are not among them: an HMAC reveals nothing of its key.
 *
 * @example credentialHeaders({ kind: "shared-secret", header: "X-Hook-Key", secrets: ["s"] }) // ["x-hook-key"]
 */
export function credentialHeaders(spec: VerifySpec): string[] {
  switch (spec.kind) {
    case "preset":
      return [...(PRESET_TABLE[spec.preset].credentialHeaders ?? [])];
    case "shared-secret":
      return [spec.header.toLowerCase()];
    case "basic":
      return ["authorization"];
    case "hmac":
    case "none":
      return [];
  }
}
