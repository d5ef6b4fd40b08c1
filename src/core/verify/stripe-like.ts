import type { PresetName } from "../types.ts";
import { checkSignatures, utf8Key } from "./hmac.ts";
import { headerLabel, missingHeader, reject, type Verifier } from "./result.ts";
import { checkTimestamp, timestampProblem, type TimestampRule } from "./timestamp.ts";

/** A `key=value` list signature header carrying a timestamp and one or more hex signatures. */
interface KeyValueScheme {
  header: string;
  timestampKey: string;
  signatureKey: string;
  /** Between the timestamp and the body in the signed content. */
  joiner: string;
  rule: TimestampRule;
}

/** Stripe, Paddle Billing and Point: all HMAC-SHA256 hex with UTF-8 string keys. */
export const KEY_VALUE_SCHEMES = {
  stripe: { header: "stripe-signature", timestampKey: "t", signatureKey: "v1", joiner: ".", rule: { unit: "s" } },
  paddle: { header: "paddle-signature", timestampKey: "ts", signatureKey: "h1", joiner: ":", rule: { unit: "s" } },
  point: { header: "point-signature", timestampKey: "t", signatureKey: "v1", joiner: ".", rule: { unit: "ms" } },
} as const satisfies Partial<Record<PresetName, KeyValueScheme>>;

/** Presets verified by keyValueVerifier. */
export type KeyValuePreset = keyof typeof KEY_VALUE_SCHEMES;

interface ParsedHeader {
  timestamps: Set<string>;
  signatures: string[];
}

/**
 * Split on "," (Stripe, Point) and ";" (Paddle); neither appears inside hex
 * values, so one splitter serves all three and also the ", " that joins a
 * header sent twice. Each element splits on its first "=".
 */
function parseKeyValues(value: string, scheme: KeyValueScheme): ParsedHeader {
  const parsed: ParsedHeader = { timestamps: new Set(), signatures: [] };
  for (const element of value.split(/[,;]/)) {
    const eq = element.indexOf("=");
    if (eq <= 0) continue;
    const key = element.slice(0, eq).trim();
    const val = element.slice(eq + 1).trim();
    if (key === scheme.timestampKey) parsed.timestamps.add(val);
    else if (key === scheme.signatureKey) parsed.signatures.push(val);
  }
  return parsed;
}

/** Verifier for a Stripe-like preset: any matching signature under any secret passes. */
export function keyValueVerifier(preset: KeyValuePreset, secrets: readonly string[], toleranceSec: number): Verifier {
  const scheme: KeyValueScheme = KEY_VALUE_SCHEMES[preset];
  const keys = secrets.map(utf8Key);
  const label = headerLabel(scheme.header);
  const where = { missing: `${label} has no ${scheme.timestampKey}= timestamp`, label: `the ${scheme.timestampKey}= timestamp in ${label}` };
  return (req, nowMs) => {
    const value = req.headers.get(scheme.header);
    if (value === null || value === "") return missingHeader("missing_signature", [scheme.header]);
    const { timestamps, signatures } = parseKeyValues(value, scheme);
    // Two different timestamps (a duplicated header from two attempts) is ambiguous: reject.
    if (timestamps.size > 1) return reject("malformed_signature", `${label} carries two different ${scheme.timestampKey}= timestamps`);
    const [timestamp] = timestamps;
    const problem = timestampProblem(timestamp ?? null, where, scheme.rule.unit);
    if (problem) return problem;
    if (signatures.length === 0) return reject("malformed_signature", `${label} has no ${scheme.signatureKey}= signature`);
    const result = checkSignatures({
      algorithm: "sha256",
      encoding: "hex",
      keys,
      contents: [[timestamp + scheme.joiner, req.body]],
      candidates: signatures,
      label,
    });
    return result.ok ? checkTimestamp(timestamp!, nowMs, toleranceSec, scheme.rule, where) : result;
  };
}
