import type { InboundRequest } from "../types.ts";
import { checkSignatures, utf8Key } from "./hmac.ts";
import { reject, type Verifier } from "./result.ts";
import { checkTimestamp, timestampProblem } from "./timestamp.ts";

interface SignatureBlock {
  timestamp: string | null;
  token: string | null;
  signature: string | null;
}

// Where Mailgun puts it: `signature.{timestamp,token,signature}` in JSON, plain fields in a form.
const BLOCK = "the body's signature block";
const EMPTY: SignatureBlock = { timestamp: null, token: null, signature: null };

function text(value: unknown): string | null {
  if (typeof value === "string") return value;
  return typeof value === "number" && Number.isSafeInteger(value) ? String(value) : null;
}

/** The signature block from a JSON body (`signature.{…}`) or a form-encoded one. */
function readSignatureBlock(req: InboundRequest): SignatureBlock {
  const raw = new TextDecoder().decode(req.body);
  const contentType = req.headers.get("content-type") ?? "";
  if (contentType.includes("json") || raw.trimStart().startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return EMPTY;
    }
    const block: unknown = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>).signature : null;
    if (typeof block !== "object" || block === null) return EMPTY;
    const fields = block as Record<string, unknown>;
    return { timestamp: text(fields.timestamp), token: text(fields.token), signature: text(fields.signature) };
  }
  const form = new URLSearchParams(raw);
  return { timestamp: form.get("timestamp"), token: form.get("token"), signature: form.get("signature") };
}

/**
 * Mailgun: the signature lives in the body; HMAC-SHA256 hex over
 * `{timestamp}{token}`. The event data is not covered, so the timestamp
 * window (both directions) and token dedupe are the replay defence.
 */
export function mailgunVerifier(secrets: readonly string[], toleranceSec: number): Verifier {
  const keys = secrets.map(utf8Key);
  const where = { missing: `${BLOCK} has no timestamp`, label: `the timestamp in ${BLOCK}` };
  return (req, nowMs) => {
    const { timestamp, token, signature } = readSignatureBlock(req);
    if (signature === null || signature === "") return reject("missing_signature", `${BLOCK} has no signature`);
    const problem = timestampProblem(timestamp, where, "s");
    if (problem) return problem;
    if (token === null || token === "") return reject("missing_token", `${BLOCK} has no token`);
    const result = checkSignatures({
      algorithm: "sha256",
      encoding: "hex",
      keys,
      contents: [[timestamp! + token]],
      candidates: [signature],
      label: `the signature in ${BLOCK}`,
    });
    return result.ok ? checkTimestamp(timestamp, nowMs, toleranceSec, { unit: "s" }, where) : result;
  };
}
