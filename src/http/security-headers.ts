/**
 * Response headers of the admin side. Pages load CSS and JS only from
 * /assets/ (no inline script or style), so the CSP can forbid everything else;
 * a stored body that slipped past escaping would still have nothing to run.
 */

/** The Content-Security-Policy of every UI page. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers for HTML pages and assets. */
export const PAGE_HEADERS: Record<string, string> = {
  "content-security-policy": PAGE_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // Not no-referrer: that turns the Origin of our own form posts into "null".
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

/** Headers for API answers: nothing in them is meant to render. */
export const API_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
};

/** Adds `headers` to `res` (values already set win) and returns it. */
export function withHeaders(res: Response, headers: Record<string, string>): Response {
  for (const [k, v] of Object.entries(headers)) if (!res.headers.has(k)) res.headers.set(k, v);
  return res;
}
