import { formFields, formKindOf, looksLikeJson } from "../form-fields.ts";
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
const SIGNED_FIELDS = ["timestamp", "token", "signature"];

function text(value: unknown): string | null {
  if (typeof value === "string") return value;
  return typeof value === "number" && Number.isSafeInteger(value) ? String(value) : null;
}

/**
 * The signature block from a JSON body (`signature.{…}`) or a form (url-encoded,
 * or multipart when a route forwards a message with attachments); null when a
 * form repeats one of its fields (which copy was signed is anyone's guess).
 */
function readSignatureBlock(req: InboundRequest): SignatureBlock | null {
  const contentType = req.headers.get("content-type");
  if (contentType?.includes("json") || looksLikeJson(req.body)) return jsonSignatureBlock(req.body);
  // Anything else is read as a form: a url-encoded one when it says nothing better.
  const fields = formFields(req.body, formKindOf(contentType) === "multipart" ? contentType : "application/x-www-form-urlencoded");
  if (fields === null) return EMPTY; // a multipart body cut short
  if (SIGNED_FIELDS.some((name) => fields.filter(([n]) => n === name).length > 1)) return null;
  const field = (name: string) => fields.find(([n]) => n === name)?.[1] ?? null;
  return { timestamp: field("timestamp"), token: field("token"), signature: field("signature") };
}

function jsonSignatureBlock(body: Uint8Array, name = "signature"): SignatureBlock {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return EMPTY;
  }
  const block: unknown = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>)[name] : null;
  if (typeof block !== "object" || block === null) return EMPTY;
  const fields = block as Record<string, unknown>;
  return { timestamp: text(fields.timestamp), token: text(fields.token), signature: text(fields.signature) };
}

/** A subaccount's webhook also carries a `parent-signature` block, made with the primary account's key (JSON only). */
function parentSignatureBlock(req: InboundRequest): SignatureBlock | null {
  const contentType = req.headers.get("content-type");
  if (!(contentType?.includes("json") || looksLikeJson(req.body))) return null;
  const block = jsonSignatureBlock(req.body, "parent-signature");
  return block.signature === null ? null : block;
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
    const block = readSignatureBlock(req);
    if (block === null) return reject("malformed_signature", `${BLOCK} has a field twice: timestamp, token and signature must each be sent once`);
    const { timestamp, token, signature } = block;
    if (signature === null || signature === "") return reject("missing_signature", `${BLOCK} has no signature`);
    const problem = timestampProblem(timestamp, where, "s");
    if (problem) return problem;
    if (token === null || token === "") return reject("missing_token", `${BLOCK} has no token`);
    const signed = (b: SignatureBlock, label: string) =>
      checkSignatures({ algorithm: "sha256", encoding: "hex", keys, contents: [[b.timestamp! + b.token]], candidates: [b.signature!], label });
    const result = signed(block, `the signature in ${BLOCK}`);
    // A subaccount signs its block with its own key; the primary account's key (the one configured,
    // often) signs the `parent-signature` block beside it, over its own timestamp and token.
    const parent = result.ok ? null : parentSignatureBlock(req);
    if (parent && parent.token && !timestampProblem(parent.timestamp, where, "s")) {
      const byParent = signed(parent, "the parent-signature block");
      if (byParent.ok) return checkTimestamp(parent.timestamp, nowMs, toleranceSec, { unit: "s" }, where);
    }
    return result.ok ? checkTimestamp(timestamp, nowMs, toleranceSec, { unit: "s" }, where) : result;
  };
}
