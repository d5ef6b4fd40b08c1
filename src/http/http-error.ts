/**
 * The one HTTP error: a status, a stable code and a message safe to show.
 * Every controller maps failures through `errorResponse`, so a 500 never
 * leaks internals and every error body has the same shape.
 */
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

/** `{"error": {"code", "message"}}` with the error's status and headers. */
export function errorResponse(err: unknown): Response {
  const e = err instanceof HttpError ? err : new HttpError(500, "internal", "internal error");
  return new Response(JSON.stringify({ error: { code: e.code, message: e.message } }), {
    status: e.status,
    headers: { "content-type": "application/json", ...e.headers },
  });
}
