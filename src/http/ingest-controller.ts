/**
 * The public listener: `POST /in/<source>` only. Reads the raw bytes itself
 * (Elysia's parsers are off) so the verifier sees exactly what was sent, then
 * maps the pipeline's outcome to a status: 200 stored or duplicate, 401
 * rejected, 403 a client address not in the source's allow_ips (checked
 * before the body is read), 404 unknown source, 200 to a HEAD (a provider checking the URL), 405 other methods, 413/408 while reading,
 * 503 + Retry-After when server.max_inflight of bodies are already in
 * flight or when the store cannot write. Each request takes the runtime
 * config once when it arrives and runs on it to its answer: a reload
 * meanwhile changes the requests that come after it.
 */
import { Elysia } from "elysia";
import type { SourceConfig } from "../config/types.ts";
import { answerGetChallenge } from "../core/verify/index.ts";
import { ingest, rejectRequest, type IngestDeps, type IngestResult, type RawRequest } from "../ingest/ingest.ts";
import type { RuntimeConfig } from "../ingest/runtime-config.ts";
import type { CompiledSource } from "../ingest/sources.ts";
import { requestClientAddress } from "./client-address.ts";
import { errorResponse, HttpError } from "./http-error.ts";
import { inflightBudget } from "./inflight-budget.ts";
import { idleSecondsFor, readBodyLimited } from "./read-body.ts";

export interface IngestControllerOptions {
  /** The runtime config in force (sources, trusted proxies, read timeout); replaced by a reload. */
  current: () => RuntimeConfig;
  deps: IngestDeps;
  maxBodyBytes: number;
  /** Body bytes read and stored at once across all requests (server.max_inflight). */
  maxInflightBytes: number;
  /** Seconds a provider should wait before retrying after a 503. */
  retryAfterSec?: number;
}

const JSON_TYPE = { "content-type": "application/json" };
// The Response copies its headers: one shared object serves every 200.
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: JSON_TYPE });
const NO_BODY = new Uint8Array(0);

/** The 403 of a client address outside the source's allow_ips, recorded as rejection `ip_not_allowed`; null when it may send. */
function refuseAddress(deps: IngestDeps, source: CompiledSource, raw: RawRequest): Response | null {
  if (!source.allowed || (raw.remoteAddr !== null && source.allowed.has(raw.remoteAddr))) return null;
  const message = `requests from ${raw.remoteAddr ?? "an unknown address"} are not allowed for this source (allow_ips)`;
  rejectRequest(deps, source, raw, { reason: "ip_not_allowed", message });
  return errorResponse(new HttpError(403, "ip_not_allowed", message));
}

/** Longest unknown source name echoed in a 404 or logged: the sender chooses it. */
const MAX_ECHOED_NAME = 100;

/** The 404 of a source name that is not configured (`known`: the configured ones). */
function unknownSource(name: string, known: ReadonlyMap<string, unknown>): HttpError {
  // A query string put into the path (its "?" sent as %3F) is the sender's data and may name a
  // person: the name is echoed and logged up to it, never with it.
  const bare = name.replace(/(?:\?|%3f)[^]*$/i, "");
  // The sender chooses it: control and direction characters would disorder a terminal or a log viewer.
  // Cut by characters, not UTF-16 units: half an emoji is a lone surrogate some log pipelines refuse.
  const chars = Array.from(bare);
  const cut = (chars.length > MAX_ECHOED_NAME ? `${chars.slice(0, MAX_ECHOED_NAME).join("")}…` : bare).replace(/[\p{Cc}\p{Cf}]/gu, "\uFFFD");
  if (bare.length === name.length) return new HttpError(404, "unknown_source", `no source named "${cut}"`);
  // The source is right, its "?" was sent encoded (a URL built by escaping the whole query into the path).
  if (known.has(bare)) return new HttpError(404, "unknown_source", `source "${cut}" with an encoded "?" (%3F) after its name: a query string must follow a plain "?", as in /in/${cut}?…`);
  return new HttpError(404, "unknown_source", `no source named "${cut}" (what followed its "?" is not shown)`);
}

/**
 * Answers a request refused before it was verified (or not stored): counted
 * and logged (folded, one line a second per source and code), so that an
 * operator sees providers sent to a mistyped URL, bodies over max_body,
 * senders too slow, and max_inflight turning requests away.
 */
function refuse(deps: IngestDeps, err: HttpError, source: string | null, remote: string | null): Response {
  deps.onRefused?.(err.code);
  deps.logs.refused.record({ source, code: err.code, status: err.status, message: err.message, remote });
  return errorResponse(err);
}

/**
 * The 401's challenge of a source that takes HTTP basic auth: a sender that
 * sends credentials only when asked (a URL with user:pass@, as Twilio's) is
 * asked. Other schemes sign; their 401 asks for nothing.
 */
function challengeOf(source: SourceConfig): Record<string, string> {
  return source.verify.kind === "basic" ? { "www-authenticate": `Basic realm="${source.name}", charset="UTF-8"` } : {};
}

/** Elysia instance serving the public inbound routes. */
export function ingestController(opts: IngestControllerOptions) {
  const retryAfter = String(opts.retryAfterSec ?? 5);
  const inflight = inflightBudget(opts.maxInflightBytes, opts.retryAfterSec ?? 5);
  // What the listener was started with (cli/start-relay.ts): a reload that raises read_timeout past it extends each request's own.
  const listenerIdleSec = idleSecondsFor(opts.current().config.server.readTimeoutMs);
  return new Elysia({ name: "ingest" })
    .post(
      "/in/:source",
      async ({ request, params, server }) => {
        const rc = opts.current();
        const source = rc.sources.get(params.source);
        // Resolved once per request by the listener's onRequest hook (behind trusted proxies).
        const remoteAddr = requestClientAddress(server, request);
        if (!source) return refuse(opts.deps, unknownSource(params.source, rc.sources), null, remoteAddr);
        const raw: RawRequest = { method: request.method, url: new URL(request.url), headers: request.headers, body: NO_BODY, remoteAddr };
        // Before the body is read: a sender that may not send does not get to use our memory.
        const refused = refuseAddress(opts.deps, source, raw);
        if (refused) return refused;
        // The body counts against max_inflight until its answer: it is in
        // memory (and on its way to the writer) until then.
        const hold = inflight.hold();
        const idleSec = idleSecondsFor(rc.config.server.readTimeoutMs);
        if (idleSec > listenerIdleSec) server?.timeout(request, idleSec);
        let result: IngestResult;
        try {
          raw.body = await readBodyLimited(request, opts.maxBodyBytes, rc.config.server.readTimeoutMs, hold);
          result = await ingest(opts.deps, source, raw);
        } catch (err) {
          return err instanceof HttpError ? refuse(opts.deps, err, source.config.name, remoteAddr) : errorResponse(err);
        } finally {
          hold.release();
        }
        switch (result.kind) {
          case "stored":
            return json(200, { id: result.id });
          case "duplicate":
            return json(200, { id: result.id, duplicate: true });
          case "handshake":
            return new Response(result.body, { status: result.status, headers: { "content-type": result.contentType } });
          case "rejected":
            return errorResponse(new HttpError(401, result.reason, result.message, challengeOf(source.config)));
          case "unavailable":
            // Logged by ingest (store write failed); counted here with the other refusals.
            opts.deps.onRefused?.("store_unavailable");
            return errorResponse(
              new HttpError(503, "store_unavailable", `event not stored (${result.error.code}); retry later`, { "retry-after": retryAfter }),
            );
        }
      },
      { parse: "none" },
    )
    .get("/in/:source", ({ params, request, server }) => {
      const { sources } = opts.current();
      const source = sources.get(params.source);
      if (!source) return refuse(opts.deps, unknownSource(params.source, sources), null, requestClientAddress(server, request));
      const url = new URL(request.url);
      const raw: RawRequest = { method: request.method, url, headers: request.headers, body: NO_BODY, remoteAddr: requestClientAddress(server, request) };
      const refused = refuseAddress(opts.deps, source, raw);
      if (refused) return refused;
      // A HEAD comes here too: some providers check a callback URL with one before they register it (Trello).
      if (request.method === "HEAD") return new Response(null, { status: 200, headers: { allow: "POST" } });
      // Verification challenges some providers send before the first event (never stored). A wrong
      // verify token is a guess at the source's secret: recorded and counted like a bad signature.
      const hs = answerGetChallenge(source.config.verify, url.searchParams, source.config.verifyToken);
      if (hs?.refused) rejectRequest(opts.deps, source, raw, { reason: hs.refused, message: hs.body });
      if (hs) return new Response(hs.body, { status: hs.status, headers: { "content-type": hs.contentType, "x-content-type-options": "nosniff" } });
      return errorResponse(new HttpError(405, "method_not_allowed", "webhooks must be sent with POST (a GET here answers only a provider's verification challenge)", { allow: "POST" }));
    })
    .all("/in/:source", ({ params, request, server }) => {
      const { sources } = opts.current();
      if (!sources.has(params.source)) return refuse(opts.deps, unknownSource(params.source, sources), null, requestClientAddress(server, request));
      return errorResponse(new HttpError(405, "method_not_allowed", "webhooks must be sent with POST", { allow: "POST" }));
    });
}
