/**
 * Undoes a request's Content-Encoding so that dedupe keys and event types can
 * be read from what the provider meant. Only for reading: the relay verifies,
 * stores and forwards the bytes as received. Decoding stops at a byte cap
 * while inflating (zlib's maxOutputLength), so a small bomb that would
 * inflate to gigabytes costs at most the cap.
 */
import { promisify } from "node:util";
import * as zlib from "node:zlib";

/** The decoded body, or why it could not be decoded (the caller keeps the raw bytes). */
export type DecodedBody = { ok: true; body: Uint8Array } | { ok: false; reason: "unsupported" | "corrupt" | "too_large" };

type Decoder = (body: Uint8Array, opts: { maxOutputLength: number }) => Promise<Uint8Array>;

const gunzip: Decoder = promisify(zlib.gunzip);
const inflate: Decoder = promisify(zlib.inflate);
const inflateRaw: Decoder = promisify(zlib.inflateRaw);

// RFC 9110 §8.4.1 codings (x-gzip is gzip's old name). "deflate" is meant to be
// zlib-wrapped, but some senders use raw deflate: try zlib first, then raw.
const DECODERS: Record<string, Decoder> = {
  gzip: gunzip,
  "x-gzip": gunzip,
  deflate: (body, opts) => inflate(body, opts).catch((err: { code?: string }) => (err.code === "Z_DATA_ERROR" ? inflateRaw(body, opts) : Promise.reject(err))),
  br: promisify(zlib.brotliDecompress),
  zstd: promisify(zlib.zstdDecompress),
};

/**
 * The body with every listed coding undone (the last one applied first), at
 * most `maxBytes` at every step; the body itself when there is none.
 *
 * @example await decodeBody(gzipSync("{}"), "gzip", 1024) // { ok: true, body: <"{}"> }
 */
export async function decodeBody(body: Uint8Array, contentEncoding: string | null, maxBytes: number): Promise<DecodedBody> {
  const codings = (contentEncoding ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  let out = body;
  for (const coding of codings.reverse()) {
    const decode = DECODERS[coding];
    if (!decode) return { ok: false, reason: "unsupported" };
    try {
      out = await decode(out, { maxOutputLength: maxBytes });
    } catch (err) {
      return { ok: false, reason: (err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? "too_large" : "corrupt" };
    }
  }
  return { ok: true, body: out };
}
