/**
 * The one HTTP error: a status, a stable code and a message safe to show.
 * Every controller maps failures through `errorResponse`, so a 500 never
 * leaks internals and every error body has the same shape.
 */
import { classifyStoreError, StoreError, type StoreErrorCode } from "../store/errors.ts";

export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The HttpError a failure is answered with: itself, 503 for a store that
 * cannot answer now (a database away, a lock held past busy_timeout, a full
 * disk: the client may retry), else a 500 that says nothing of the inside.
 */
export function httpErrorOf(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const store = storeFailure(err);
  if (store) return new HttpError(503, "store_unavailable", `the store cannot answer now (${store}); retry later`, { "retry-after": "5" });
  return new HttpError(500, "internal", "internal error");
}

/** A store's failure code when `err` is one the store raised or the driver reported as such, else null. */
function storeFailure(err: unknown): StoreErrorCode | null {
  if (err instanceof StoreError) return err.code;
  const code = classifyStoreError(err).code;
  // "unavailable" is what any other error classifies as: a bug stays a 500.
  return code === "unavailable" || code === "invalid" ? null : code;
}

/** `{"error": {"code", "message"}}` with the error's status and headers. */
export function errorResponse(err: unknown): Response {
  const e = httpErrorOf(err);
  return new Response(JSON.stringify({ error: { code: e.code, message: e.message } }), {
    status: e.status,
    // An error may echo what the client sent (an unknown source's name): never to be read as anything but JSON.
    headers: { "content-type": "application/json", "x-content-type-options": "nosniff", ...e.headers },
  });
}
