/**
 * Reads a request body with a size cap checked while reading (also without
 * Content-Length: chunked uploads are counted as they stream) and a total
 * deadline, so a slow-drip sender cannot hold a connection forever. The
 * bytes also count against server.max_inflight (the request's `hold`): a
 * declared length up to WHOLE_READ_MAX_BYTES before anything is read, else
 * each chunk as it comes.
 */
import { HttpError } from "./http-error.ts";
import type { BodyHold } from "./inflight-budget.ts";

/**
 * How long the public listener lets a connection sit idle, in seconds: past
 * `read_timeout`, so that a body that stops arriving gets its 408 before the
 * HTTP server closes the socket without a word (Bun's limit is 255 s; config
 * keeps read_timeout at 250 s at most).
 */
export function idleSecondsFor(readTimeoutMs: number): number {
  return Math.min(255, Math.ceil(readTimeoutMs / 1000) + 5);
}

/** Declared bodies up to this size are read whole, their max_inflight share taken before they arrive. */
export const WHOLE_READ_MAX_BYTES = 64 * 1024;

/** The exact body bytes, or an HttpError (413 too large, 503 max_inflight full, 408 too slow, 400 broken). */
export async function readBodyLimited(req: Request, maxBytes: number, deadlineMs: number, hold: BodyHold): Promise<Uint8Array> {
  const header = req.headers.get("content-length");
  // Bun joins a repeated header ("2, 2"): anything but one whole number is refused, never taken as NaN
  // (which would compare as within every limit).
  if (header !== null && !/^\d{1,15}$/.test(header))
    throw new HttpError(400, "bad_content_length", "Content-Length must be one whole number of bytes (it was repeated or malformed)");
  const declared = header === null ? null : Number(header);
  if (declared !== null && declared > maxBytes) throw new HttpError(413, "body_too_large", `body exceeds max_body (${maxBytes} bytes)`);
  // A webhook's usual size, declared: its share taken at once and one native read, far cheaper than
  // pulling the stream chunk by chunk. A larger one counts as it arrives (below), so that a sender
  // who declares megabytes and sends a byte a second holds only what it sent, not a share of
  // max_inflight that every verified provider then waits behind.
  if (declared !== null && declared <= WHOLE_READ_MAX_BYTES) {
    if (!hold.take(declared)) throw hold.refusal();
    if (!req.body) return new Uint8Array(0);
    return readWhole(req, deadlineMs);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(408, "read_timeout", "request body not received in time")), deadlineMs);
  });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline]);
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new HttpError(413, "body_too_large", `body exceeds max_body (${maxBytes} bytes)`);
      if (!hold.take(value.byteLength)) throw hold.refusal();
      chunks.push(value);
    }
  } catch (err) {
    reader.cancel().catch(() => {});
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, "bad_body", "request body could not be read", {}, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

async function readWhole(req: Request, deadlineMs: number): Promise<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(408, "read_timeout", "request body not received in time")), deadlineMs);
  });
  try {
    return await Promise.race([req.bytes(), deadline]);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, "bad_body", "request body could not be read", {}, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
