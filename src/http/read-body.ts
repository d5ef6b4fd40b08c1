/**
 * Reads a request body with a size cap checked while reading (also without
 * Content-Length: chunked uploads are counted as they stream) and a total
 * deadline, so a slow-drip sender cannot hold a connection forever. The
 * bytes also count against server.max_inflight (the request's `hold`): a
 * declared length up to WHOLE_READ_MAX_BYTES before anything is read (moved
 * to a budget of late bodies once late, ON_TIME_MS), else each chunk as it comes.
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

/**
 * The most pieces (chunks of a chunked body, reads of a large one) a body may
 * arrive in: a megabyte in pieces of 64 bytes, some 15 ms of the event loop.
 * A real sender's chunks are kilobytes.
 */
export const MAX_BODY_PIECES = 16_384;

/** Declared bodies up to this size are read whole, their max_inflight share taken before they arrive. */
export const WHOLE_READ_MAX_BYTES = 64 * 1024;

/**
 * How long a body read whole keeps the share it took before arriving. A
 * webhook's body comes with its headers or right behind them; one still
 * missing by then moves its share to a budget of late bodies as large as
 * max_inflight (503 at once when that is full): otherwise a thousand
 * connections that declare 64 KB and send nothing held all of max_inflight
 * for read_timeout, and every provider got a 503. Memory stays bounded (by
 * twice max_inflight) whatever the late ones send.
 */
export const ON_TIME_MS = 500;

/** The exact body bytes, or an HttpError (413 too large, 503 max_inflight full, 408 too slow, 400 broken). */
export async function readBodyLimited(req: Request, maxBytes: number, deadlineMs: number, hold: BodyHold): Promise<Uint8Array> {
  const header = req.headers.get("content-length");
  // Bun joins a repeated header ("2, 2"): anything but one whole number is refused, never taken as NaN
  // (which would compare as within every limit).
  if (header !== null && !/^\d{1,15}$/.test(header))
    throw new HttpError(400, "bad_content_length", "Content-Length must be one whole number of bytes (it was repeated or malformed)");
  // Bun's parser reads a chunked body but not trailer fields after it: it answers 400 and closes the
  // connection once the body is read, while the event is being stored (the sender sees a failure,
  // and so does every retry). Refused before anything is read when the sender announces them.
  if (header === null && req.headers.has("trailer") && /chunked/i.test(req.headers.get("transfer-encoding") ?? ""))
    throw new HttpError(400, "trailers_not_supported", "the request announces trailer fields (Trailer header), which this server cannot read after a chunked body: send the body without trailers");
  const declared = header === null ? null : Number(header);
  if (declared !== null && declared > maxBytes) throw tooLarge(maxBytes);
  // A webhook's usual size, declared: its share taken at once and one native read, far cheaper than
  // pulling the stream chunk by chunk. A larger one counts as it arrives (below), so that a sender
  // who declares megabytes and sends a byte a second holds only what it sent, not a share of
  // max_inflight that every verified provider then waits behind.
  if (declared !== null && declared <= WHOLE_READ_MAX_BYTES) {
    if (!hold.take(declared)) throw hold.refusal();
    if (!req.body) return new Uint8Array(0);
    return readWhole(req, deadlineMs, hold);
  }
  if (!req.body) return new Uint8Array(0);
  return readStreamed(req.body, maxBytes, deadlineMs, hold, declared);
}

/**
 * A body of unknown or large size, counted as it arrives. A sender may split
 * it into a million one-byte chunks, each a separate read of the stream
 * (about a microsecond of this thread apiece, the ack of every other request
 * waiting behind it): past MAX_BODY_PIECES the body is refused. Each read
 * takes every chunk queued so far (readMany), the bytes are copied into one
 * buffer as they come (no array of small views kept alive), and the deadline
 * cancels the read once instead of racing every read (each race would leave
 * a reaction on the deadline's promise until it settles).
 */
async function readStreamed(body: ReadableStream<Uint8Array>, maxBytes: number, deadlineMs: number, hold: BodyHold, declared: number | null): Promise<Uint8Array> {
  const reader = body.getReader();
  let out: Uint8Array<ArrayBuffer> = new Uint8Array(Math.min(declared ?? 16 * 1024, maxBytes));
  let total = 0;
  let pieces = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, deadlineMs);
  try {
    for (;;) {
      const { done, value: chunks } = await reader.readMany();
      if (timedOut) throw new HttpError(408, "read_timeout", "request body not received in time");
      if ((pieces += chunks.length) > MAX_BODY_PIECES)
        throw new HttpError(400, "fragmented_body", `request body sent in more than ${MAX_BODY_PIECES} pieces; send it in larger chunks`);
      for (const chunk of chunks) {
        if (total + chunk.byteLength > maxBytes) throw tooLarge(maxBytes);
        if (!hold.take(chunk.byteLength)) throw hold.refusal();
        if (total + chunk.byteLength > out.byteLength) out = grown(out, total, Math.min(maxBytes, Math.max(out.byteLength * 2, total + chunk.byteLength)));
        out.set(chunk, total);
        total += chunk.byteLength;
      }
      if (done) break;
    }
  } catch (err) {
    reader.cancel().catch(() => {});
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, "bad_body", "request body could not be read", {}, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  return total === out.byteLength ? out : out.subarray(0, total);
}

const tooLarge = (maxBytes: number) => new HttpError(413, "body_too_large", `body exceeds max_body (${maxBytes} bytes)`);

/** `bytes`' first `used` bytes in a larger buffer of `size`. */
function grown(bytes: Uint8Array, used: number, size: number): Uint8Array<ArrayBuffer> {
  const next = new Uint8Array(size);
  next.set(bytes.subarray(0, used));
  return next;
}

/** A declared body in one native read; its share (taken) moves to the late bodies' budget once it is late (ON_TIME_MS). */
async function readWhole(req: Request, deadlineMs: number, hold: BodyHold): Promise<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lateTimer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(408, "read_timeout", "request body not received in time")), deadlineMs);
    lateTimer = setTimeout(() => {
      if (!hold.moveLate()) reject(hold.refusal());
    }, Math.min(ON_TIME_MS, deadlineMs));
  });
  try {
    return await Promise.race([req.bytes(), deadline]);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, "bad_body", "request body could not be read", {}, { cause: err });
  } finally {
    clearTimeout(timer);
    clearTimeout(lateTimer);
  }
}
