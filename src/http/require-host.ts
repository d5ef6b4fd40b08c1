/**
 * Refuses a request whose URL cannot be built before any route sees it.
 * Bun answers an HTTP/1.1 request with no Host line itself, but an HTTP/1.0
 * request without one, or any request with an empty or invalid Host
 * ("a b", "x:99999", "[::1"), reaches the handlers with a `request.url` that
 * is relative or unparseable, where every `new URL(request.url)` throws: a
 * 500, or Bun's own error page with our source lines on it. Health probes
 * are let through: some checkers (haproxy's httpchk) send HTTP/1.0 without a
 * Host, and /healthz and /readyz read nothing from the URL.
 */
import { FoldedLog } from "../log/folded-log.ts";
import type { Logger } from "../log/logger.ts";
import { errorResponse, HttpError } from "./http-error.ts";

/** Where Elysia's router takes a URL's path to start at the earliest ("http://" and a 4-character host). */
const ROUTER_PATH_START = 11;

type RequestContext = { request: Request; server: { requestIP(r: Request): { address: string } | null } | null };

/**
 * An Elysia `onRequest` hook for one listener: 400 `missing_host` (no or
 * an empty Host) or `bad_host` (one no URL can be built with), with an info
 * log line (at most one a second per reason: a flood of them is counted,
 * log/folded-log.ts), except for the `exempt` paths; else nothing.
 */
export function requireHost(log: Logger, listener: "public" | "admin", exempt: readonly string[] = [], nowMs: () => number = Date.now) {
  const badRequests = new FoldedLog<{ listener: string; reason: string; method: string; path: string; remote: string | null }>(
    log,
    { level: "info", msg: "bad request", key: (e) => e.reason },
    { nowMs },
  );
  return ({ request, server }: RequestContext) => {
    // Bun joins repeated headers with ", " and builds the URL from the first Host: two Hosts
    // (which RFC 9112 answers with 400) would reach us as one, the second ignored.
    const host = request.headers.get("host");
    const repeated = host !== null && host.includes(",");
    // The router reads the path from the 12th character of the URL on (past "http://" and a host
    // of 4 or more): a shorter host ("x", "a:1") would be routed by a piece of its path. Refused,
    // health probes too: answered, such a probe would reach the wrong route.
    const absolute = URL.canParse(request.url);
    const tooShort = absolute && request.url.indexOf("/", 8) < ROUTER_PATH_START;
    if (!repeated && !tooShort && absolute) return;
    // Relative ("/in/x?…") or "http://<bad host>/in/x?…": the path without parsing a URL.
    const path = request.url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").split("?")[0]!.slice(0, 200);
    if (exempt.includes(path) && !tooShort) return;
    const reason = host ? "bad_host" : "missing_host";
    badRequests.record({ listener, reason, method: request.method, path, remote: server?.requestIP(request)?.address ?? null });
    const message =
      reason === "missing_host" ? "the request has no Host header"
      : repeated ? "the request has more than one Host header"
      : tooShort ? "the Host header is shorter than 4 characters: name the host as the sender knows it (a real name or address)"
      : "the Host header is not a valid host[:port]";
    return errorResponse(new HttpError(400, reason, message));
  };
}
